import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createForgeDirectory } from '../../src/forges/directory.js';
import { createProbot } from '../../src/forges/github/app.js';
import { GitHubForge } from '../../src/forges/github/client.js';
import { GitLabForge } from '../../src/forges/gitlab/client.js';

const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

describe('createForgeDirectory', () => {
  it('caches one GitHubForge per installation', async () => {
    const probot = createProbot({ appId: '1', privateKey, secret: 's', log: pino({ level: 'silent' }) });
    const directory = createForgeDirectory({ github: { probot } });
    const a = await directory.get('github', 1);
    expect(a).toBeInstanceOf(GitHubForge);
    expect(await directory.get('github', 1)).toBe(a);
    expect(await directory.get('github', 2)).not.toBe(a);
    await expect(directory.get('github')).rejects.toThrow(/installation id/);
  });

  it('caches the GitLabForge', async () => {
    const directory = createForgeDirectory({ gitlab: { url: 'https://gitlab.example.com', token: 'glpat-x' } });
    const forge = await directory.get('gitlab');
    expect(forge).toBeInstanceOf(GitLabForge);
    expect(await directory.get('gitlab', 99)).toBe(forge);
  });

  it('says which environment variables configure a missing forge', async () => {
    const directory = createForgeDirectory({});
    expect(directory.configured('github')).toBe(false);
    expect(directory.configured('gitlab')).toBe(false);
    await expect(directory.get('github', 1)).rejects.toThrow(/APP_ID.*PRIVATE_KEY.*PRIVATE_KEY_PATH.*WEBHOOK_SECRET/);
    await expect(directory.get('gitlab')).rejects.toThrow(/GITLAB_URL.*GITLAB_TOKEN.*GITLAB_WEBHOOK_SECRET/);
  });
});
