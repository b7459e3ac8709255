import { describe, expect, it } from 'vitest';
import { authorize, parseApiTokens } from '../../src/api/auth.js';
import { readEnvironment } from '../../src/config/env.js';

const T = 'x'.repeat(16);

describe('parseApiTokens', () => {
  it.each([
    ['', { ok: true, tokens: [] }],
    [`a:read:${T}, b:operate:${T}y`, { ok: true, tokens: [{ name: 'a', role: 'read', token: T }, { name: 'b', role: 'operate', token: `${T}y` }] }],
    [`a:read:${T}:with:colons`, { ok: true, tokens: [{ name: 'a', role: 'read', token: `${T}:with:colons` }] }],
    ['a:read', { ok: false, error: 'entry 1 (a): expected name:role:token' }],
    [`a:admin:${T}`, { ok: false, error: 'entry 1 (a): role must be read or operate, not "admin"' }],
    ['a:read:short', { ok: false, error: 'entry 1 (a): the token must be at least 16 characters' }],
    [`a:read:${T},a:operate:${T}z`, { ok: false, error: 'entry 2 (a): the name is used twice' }],
    [`a b:read:${T}`, { ok: false, error: 'entry 1 (a b): the name may hold letters, digits, _ . @ - only' }],
  ])('%s', (value, expected) => {
    expect(parseApiTokens(value)).toEqual(expected);
  });

  it('never puts a token in the environment error', () => {
    expect(() => readEnvironment({ DOOM_API_TOKENS: 'a:root:supersecretvalue123' })).toThrow(/role must be read or operate/);
    try {
      readEnvironment({ DOOM_API_TOKENS: 'a:root:supersecretvalue123' });
    } catch (error) {
      expect((error as Error).message).not.toContain('supersecretvalue123');
    }
  });
});

describe('authorize', () => {
  const tokens = [
    { name: 'r', role: 'read' as const, token: `${T}r` },
    { name: 'o', role: 'operate' as const, token: `${T}o` },
  ];
  it.each([
    [[], `Bearer ${T}r`, 'read', { kind: 'deny', status: 401, error: 'the REST API has no tokens configured: set DOOM_API_TOKENS' }],
    [tokens, undefined, 'read', { kind: 'deny', status: 401, error: 'missing bearer token: send Authorization: Bearer <token>' }],
    [tokens, `Basic ${T}r`, 'read', { kind: 'deny', status: 401, error: 'missing bearer token: send Authorization: Bearer <token>' }],
    [tokens, `Bearer ${T}`, 'read', { kind: 'deny', status: 401, error: 'invalid bearer token' }],
    [tokens, `Bearer ${T}r`, 'operate', { kind: 'deny', status: 403, error: 'token "r" has role read; this needs operate' }],
    [tokens, `bearer ${T}r`, 'read', { kind: 'allow', caller: tokens[0] }],
    [tokens, `Bearer ${T}o`, 'operate', { kind: 'allow', caller: tokens[1] }],
    [tokens, `Bearer ${T}o`, 'read', { kind: 'allow', caller: tokens[1] }],
  ] as const)('%#', (list, header, needed, expected) => {
    expect(authorize(list, header, needed)).toEqual(expected);
  });
});
