import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEnvironment } from '../../src/config/env.js';
import { ConfigError } from '../../src/config/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'doom-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----\n';
const github = { APP_ID: '123', PRIVATE_KEY: PEM, WEBHOOK_SECRET: 'gh-secret' };
const gitlab = { GITLAB_URL: 'https://gitlab.example.com/', GITLAB_TOKEN: 'glpat-x', GITLAB_WEBHOOK_SECRET: 'gl-secret' };

function configError(env: Record<string, string>): string {
  try {
    readEnvironment(env as NodeJS.ProcessEnv);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('readEnvironment', () => {
  it('with nothing set: no forge, every missing setting listed, defaults elsewhere', () => {
    expect(readEnvironment({})).toEqual({
      github: null,
      githubMissing: ['APP_ID', 'PRIVATE_KEY or PRIVATE_KEY_PATH', 'WEBHOOK_SECRET'],
      gitlab: null,
      gitlabMissing: ['GITLAB_URL', 'GITLAB_TOKEN', 'GITLAB_WEBHOOK_SECRET'],
      databaseUrl: './data/doom.db',
      port: undefined,
      logLevel: 'info',
      configPath: 'config/doom-rlvr.toml',
      apiTokens: [],
      metricsToken: undefined,
    });
  });

  it('treats blank values as unset', () => {
    const env = readEnvironment({ APP_ID: '  ', WEBHOOK_SECRET: '', DATABASE_URL: ' ', PORT: '' });
    expect(env.githubMissing).toEqual(['APP_ID', 'PRIVATE_KEY or PRIVATE_KEY_PATH', 'WEBHOOK_SECRET']);
    expect(env.databaseUrl).toBe('./data/doom.db');
    expect(env.port).toBeUndefined();
  });

  it('configures GitHub and GitLab when everything is there', () => {
    const env = readEnvironment({ ...github, ...gitlab, GITHUB_API_URL: 'https://ghe.example.com/api/v3' });
    expect(env.github).toEqual({ appId: '123', privateKey: PEM, webhookSecret: 'gh-secret', apiUrl: 'https://ghe.example.com/api/v3' });
    expect(env.githubMissing).toEqual([]);
    // The trailing slash goes, so URLs built from it have no "//".
    expect(env.gitlab).toEqual({ url: 'https://gitlab.example.com', token: 'glpat-x', webhookSecret: 'gl-secret' });
    expect(env.gitlabMissing).toEqual([]);
  });

  it('reports partial GitHub settings instead of guessing', () => {
    const env = readEnvironment({ APP_ID: '123', WEBHOOK_SECRET: 's' });
    expect(env.github).toBeNull();
    expect(env.githubMissing).toEqual(['PRIVATE_KEY or PRIVATE_KEY_PATH']);
    const noSecret = readEnvironment({ APP_ID: '123', PRIVATE_KEY: PEM });
    expect(noSecret.github).toBeNull();
    expect(noSecret.githubMissing).toEqual(['WEBHOOK_SECRET']);
  });

  it('reports partial GitLab settings', () => {
    const env = readEnvironment({ GITLAB_URL: 'https://gitlab.example.com', GITLAB_TOKEN: 't' });
    expect(env.gitlab).toBeNull();
    expect(env.gitlabMissing).toEqual(['GITLAB_WEBHOOK_SECRET']);
  });

  it('reads the private key from PRIVATE_KEY_PATH', () => {
    const path = join(dir, 'key.pem');
    writeFileSync(path, PEM);
    const env = readEnvironment({ APP_ID: '1', WEBHOOK_SECRET: 's', PRIVATE_KEY_PATH: path });
    expect(env.github?.privateKey).toBe(PEM);
  });

  it('prefers PRIVATE_KEY over PRIVATE_KEY_PATH, which is then not read', () => {
    const env = readEnvironment({ ...github, PRIVATE_KEY_PATH: join(dir, 'does-not-exist.pem') });
    expect(env.github?.privateKey).toBe(PEM);
  });

  it('fails on an unreadable PRIVATE_KEY_PATH, naming it', () => {
    const path = join(dir, 'missing.pem');
    expect(configError({ APP_ID: '1', PRIVATE_KEY_PATH: path })).toMatch(
      new RegExp(`^environment: PRIVATE_KEY_PATH: cannot read ${path.replace(/[.\\/]/g, '\\$&')}: .*ENOENT`),
    );
  });

  it('unescapes \\n in PRIVATE_KEY (one-line keys in .env files)', () => {
    const env = readEnvironment({ ...github, PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nMIIabc\\n-----END PRIVATE KEY-----' });
    expect(env.github?.privateKey).toBe('-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----');
  });

  it('parses PORT and rejects a bad one', () => {
    expect(readEnvironment({ PORT: '3000' }).port).toBe(3000);
    expect(configError({ PORT: 'abc' })).toBe('environment: PORT: expected a port number');
    expect(configError({ PORT: '-1' })).toBe('environment: PORT: expected a port number');
    expect(configError({ PORT: '70000' })).toMatch(/^environment: PORT: Too big/);
  });

  it('rejects a GITLAB_URL that is not a URL', () => {
    expect(configError({ ...gitlab, GITLAB_URL: 'gitlab.example.com' })).toMatch(/^environment: GITLAB_URL: /);
    expect(configError({ GITHUB_API_URL: 'not a url' })).toMatch(/^environment: GITHUB_API_URL: /);
  });

  it('rejects an unknown LOG_LEVEL and accepts a known one', () => {
    expect(configError({ LOG_LEVEL: 'verbose' })).toMatch(/^environment: LOG_LEVEL: /);
    expect(readEnvironment({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
  });

  it('takes DATABASE_URL and DOOM_CONFIG as given', () => {
    const env = readEnvironment({ DATABASE_URL: 'postgres://u@db/doom', DOOM_CONFIG: '/etc/doom/doom-rlvr.toml' });
    expect(env.databaseUrl).toBe('postgres://u@db/doom');
    expect(env.configPath).toBe('/etc/doom/doom-rlvr.toml');
  });

  it('never puts a secret into an error message', () => {
    const message = configError({ ...github, ...gitlab, PORT: 'x' });
    for (const secret of ['gh-secret', 'glpat-x', 'gl-secret', 'MIIabc']) expect(message).not.toContain(secret);
  });
});
