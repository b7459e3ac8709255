import { describe, expect, it } from 'vitest';
import type { Permission } from '../../src/forges/forge.js';
import { decideByIdentity, decideTrigger, hasRole, type Role } from '../../src/permissions/roles.js';

const human = { id: 1, login: 'alice', isBot: false };
const bot = { id: 2, login: 'renovate[bot]', isBot: true };
const none = { allowed_bots: [] };

describe('hasRole', () => {
  const table: Array<[Permission, Role, boolean]> = [
    ['admin', 'write', true],
    ['maintain', 'write', true],
    ['write', 'write', true],
    ['read', 'write', false],
    ['none', 'write', false],
    ['admin', 'maintain', true],
    ['maintain', 'maintain', true],
    ['write', 'maintain', false],
    ['read', 'maintain', false],
  ];
  for (const [permission, role, expected] of table) {
    it(`${permission} ${expected ? 'has' : 'lacks'} ${role}`, () => expect(hasRole(permission, role)).toBe(expected));
  }
});

describe('decideTrigger', () => {
  it('lets a human with write access trigger, on the strength of the permission', () => {
    expect(decideTrigger(human, 'write', none)).toEqual({ allowed: true, actor: 'alice', role: 'write', basis: 'permission', permission: 'write' });
  });

  it('refuses read and no access, naming what is missing', () => {
    expect(decideTrigger(human, 'read', none)).toMatchObject({
      allowed: false,
      reason: 'permission',
      permission: 'read',
      message: 'alice has only read access; write access is needed',
    });
    expect(decideTrigger(human, 'none', none)).toMatchObject({ allowed: false, message: 'alice has no access; write access is needed' });
  });

  it('asks maintain for the maintain role', () => {
    expect(decideTrigger(human, 'write', none, 'maintain')).toMatchObject({ allowed: false, role: 'maintain' });
    expect(decideTrigger(human, 'maintain', none, 'maintain')).toMatchObject({ allowed: true });
  });

  it('ignores a bot whatever its permission, unless it is allow-listed (by login, any case)', () => {
    expect(decideTrigger(bot, 'admin', none)).toMatchObject({ allowed: false, reason: 'bot', permission: null });
    expect(decideTrigger(bot, 'none', { allowed_bots: ['Renovate[bot]'] })).toEqual({
      allowed: true,
      actor: 'renovate[bot]',
      role: 'write',
      basis: 'allowed_bot',
    });
    // The list names bots: a human of that name is still decided by permission.
    expect(decideTrigger({ ...human, login: 'renovate[bot]' }, 'read', { allowed_bots: ['renovate[bot]'] })).toMatchObject({ allowed: false });
  });
});

describe('decideByIdentity', () => {
  it('decides bots without a lookup and leaves humans to their permission', () => {
    expect(decideByIdentity(human, none)).toBeNull();
    expect(decideByIdentity(bot, none)).toMatchObject({ allowed: false, reason: 'bot' });
    expect(decideByIdentity(bot, { allowed_bots: ['renovate[bot]'] })).toMatchObject({ allowed: true });
  });
});
