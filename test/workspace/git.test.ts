import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoCredentialInUrl, git, GitError, gitEnv, redact } from '../../src/workspace/git.js';
import { createRemote, tempDir } from './helpers.js';

const credential = { username: 'x-access-token', password: 'ghs_S3cretT0ken_abc' };
const b64 = Buffer.from(`${credential.username}:${credential.password}`).toString('base64');

const mustNotContain = (text: string) => {
  expect(text).not.toContain(credential.password);
  expect(text).not.toContain(b64);
  expect(text).not.toContain('hunter2');
};

describe('redact', () => {
  it('hides the credential, its base64 form and URL userinfo', () => {
    const text = `https://bob:hunter2@example.com/x Authorization: Basic ${b64} token=${credential.password}`;
    const out = redact(text, credential);
    mustNotContain(out);
    expect(out).toContain('https://***@example.com/x');
  });
});

describe('gitEnv', () => {
  it('passes the credential as command-line config in the environment, not argv', () => {
    const env = gitEnv({ credential });
    const entries = Object.entries(env).filter(([k]) => k.startsWith('GIT_CONFIG_KEY_'));
    const header = entries.find(([, v]) => v === 'http.extraHeader');
    expect(header).toBeDefined();
    const index = header![0].slice('GIT_CONFIG_KEY_'.length);
    expect(env[`GIT_CONFIG_VALUE_${index}`]).toBe(`Authorization: Basic ${b64}`);
    expect(env.GIT_CONFIG_NOSYSTEM).toBe('1');
    expect(env.GIT_TERMINAL_PROMPT).toBe('0');
  });

  it("keeps none of the bot's secrets, even in a real git child's /proc environ", async () => {
    const secrets = { PRIVATE_KEY: 'k', WEBHOOK_SECRET: 's', GITLAB_TOKEN: 't', GITLAB_WEBHOOK_SECRET: 'g', DATABASE_URL: 'postgres://x', SOME_OTHER: 'o' };
    Object.assign(process.env, secrets);
    try {
      const env = gitEnv({ credential });
      for (const name of Object.keys(secrets)) expect(env[name]).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);
      // What a process of the same user reads from /proc/<git's pid>/environ: git's own view.
      const seen = await git(['-c', 'alias.env=!cat /proc/$PPID/environ', 'env']);
      expect(seen).not.toMatch(/PRIVATE_KEY|WEBHOOK_SECRET|GITLAB_TOKEN|DATABASE_URL|SOME_OTHER/);
      expect(seen).toContain('GIT_CONFIG_NOSYSTEM=1');
    } finally {
      for (const name of Object.keys(secrets)) delete process.env[name];
    }
  });

  it('drops inherited GIT_* variables', () => {
    process.env.GIT_DIR = '/nonexistent';
    try {
      expect(gitEnv().GIT_DIR).toBeUndefined();
    } finally {
      delete process.env.GIT_DIR;
    }
  });

  it('ignores the global config and refuses to guess an identity', async () => {
    const dir = await tempDir();
    try {
      await git(['init', '--quiet', dir.path]);
      await expect(git(['commit', '--allow-empty', '-m', 'x'], { cwd: dir.path })).rejects.toThrow(/identity/i);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('git', () => {
  it('returns stdout without the trailing newline', async () => {
    expect(await git(['--version'])).toMatch(/^git version \d+\.\d+/);
  });

  it('raises GitError with args, stderr and exit code', async () => {
    const dir = await tempDir();
    try {
      const error = await git(['rev-parse', 'HEAD'], { cwd: dir.path }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitError);
      const g = error as GitError;
      expect(g.args).toEqual(['rev-parse', 'HEAD']);
      expect(g.exitCode).toBe(128);
      expect(g.stderr).toMatch(/not a git repository/);
    } finally {
      await dir.cleanup();
    }
  });

  it('never shows the credential in a GitError (bad URL carrying one, plus the credential option)', async () => {
    const url = `https://bob:hunter2@127.0.0.1:1/${credential.password}/repo.git`;
    const error = await git(['ls-remote', url], { credential }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitError);
    const g = error as GitError;
    for (const text of [g.message, g.stderr, g.args.join(' '), String(g.stack)]) mustNotContain(text);
  });

  it('stops on abort', async () => {
    const ac = new AbortController();
    const p = git(['hash-object', '--stdin'], { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toThrow(/aborted/);
  });

  it('rejects URLs that carry a credential', () => {
    expect(() => assertNoCredentialInUrl('https://bob:hunter2@example.com/a.git')).toThrow(/carries a credential/);
    expect(() => assertNoCredentialInUrl('https://bob:hunter2@example.com/a.git')).not.toThrow(/hunter2/);
    expect(() => assertNoCredentialInUrl('https://example.com/a.git')).not.toThrow();
    expect(() => assertNoCredentialInUrl('/srv/git/a.git')).not.toThrow();
  });
});

describe('credential over HTTP', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it.each([401, 404])('sends the Basic header on the request and keeps it out of the error (%i)', async (status) => {
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(status, status === 401 ? { 'WWW-Authenticate': 'Basic realm="x"' } : {}).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const { port } = server.address() as AddressInfo;
    const error = await git(['ls-remote', `http://127.0.0.1:${port}/o/r.git`], { credential }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitError);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).toBe(`Basic ${b64}`);
    mustNotContain((error as GitError).message);
  });

  it('does not hang on a prompt when no credential is given', async () => {
    const dir = await tempDir();
    try {
      await createRemote(dir.path);
      const server = createServer((_req, res) => res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="x"' }).end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      closers.push(() => new Promise((r) => server.close(() => r())));
      const { port } = server.address() as AddressInfo;
      await expect(git(['ls-remote', `http://127.0.0.1:${port}/repo.git`], { timeoutMs: 10_000 })).rejects.toThrow(
        /terminal prompts disabled|Authentication failed|could not read/i,
      );
    } finally {
      await dir.cleanup();
    }
  });
});
