/** The permission cache, over the real GitLab client with its API answered by nock. */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createForgeDirectory } from '../../src/forges/directory.js';
import { PermissionLookup } from '../../src/permissions/lookup.js';
import { GITLAB_TOKEN, GITLAB_URL } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';

const scope = { forge: 'gitlab' as const, repo: { id: 1, fullName: 'gitlabhq/gitlab-test' } };

describe('PermissionLookup', () => {
  let clock = 0;
  const lookup = (ttlMs: number) =>
    new PermissionLookup({ forges: createForgeDirectory({ gitlab: { url: GITLAB_URL, token: GITLAB_TOKEN, retry: { retries: 0 } } }), ttlMs, now: () => clock });
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    clock = 0;
  });

  it('asks the forge once per TTL, then again', async () => {
    const gitlab = new FakeGitLab().install();
    gitlab.members.set('dev', { id: 7, username: 'dev', access_level: 30 });
    const permissions = lookup(60_000);
    const members = () => gitlab.made('GET', /members\/all\/7$/).length;

    expect(await permissions.permissionOf(scope, { login: 'dev', id: 7 })).toEqual({ permission: 'write', cached: false });
    clock = 59_999;
    // Logins compare case-insensitively.
    expect(await permissions.permissionOf(scope, { login: 'DEV', id: 7 })).toEqual({ permission: 'write', cached: true });
    expect(members()).toBe(1);

    // Demoted meanwhile: the next lookup after the TTL sees it.
    gitlab.members.set('dev', { id: 7, username: 'dev', access_level: 20 });
    clock = 60_000;
    expect(await permissions.permissionOf(scope, { login: 'dev', id: 7 })).toEqual({ permission: 'read', cached: false });
    expect(members()).toBe(2);
  });

  it('keeps answers apart per repository and asks every time with a TTL of 0', async () => {
    const gitlab = new FakeGitLab().install();
    const permissions = lookup(0);
    await permissions.permissionOf(scope, { login: 'root', id: 1 });
    await permissions.permissionOf(scope, { login: 'root', id: 1 });
    expect(gitlab.made('GET', /members\/all\/1$/)).toHaveLength(2);

    const cached = lookup(1000);
    await cached.permissionOf(scope, { login: 'root', id: 1 });
    await cached.permissionOf({ ...scope, repo: { id: 2, fullName: 'gitlabhq/other' } }, { login: 'root', id: 1 });
    expect(gitlab.made('GET', /projects\/2\/members\/all\/1$/)).toHaveLength(1);
  });

  it('remembers no failure: a lookup that failed is asked again', async () => {
    nock(GITLAB_URL).get('/api/v4/projects/1/members/all/7').reply(500, { message: 'boom' });
    const permissions = lookup(60_000);
    await expect(permissions.permissionOf(scope, { login: 'dev', id: 7 })).rejects.toMatchObject({ status: 500 });
    nock(GITLAB_URL).get('/api/v4/projects/1/members/all/7').reply(200, { id: 7, username: 'dev', access_level: 40 });
    expect(await permissions.permissionOf(scope, { login: 'dev', id: 7 })).toEqual({ permission: 'maintain', cached: false });
  });
});
