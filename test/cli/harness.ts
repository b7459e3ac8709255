/** Runs the `doom` CLI in this process with the shipped config, capturing what it prints. */
import { afterAll, beforeAll, expect, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { shippedConfigPath } from '../tiers/fixtures.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `doom --config <shipped> …args`, capturing both streams. */
export async function doom(...args: string[]): Promise<Run> {
  return doomWithStdin('', ...args);
}

/** The same, with `stdin` as what a hook (Claude Code) pipes in. */
export async function doomWithStdin(stdin: string, ...args: string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (sink: string[]) => (chunk: string | Uint8Array) => {
    sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture(stdout) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture(stderr) as typeof process.stderr.write);
  try {
    const code = await main(['node', 'doom', '--config', shippedConfigPath, ...args], { stdin: async () => stdin });
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** Runs a command that must succeed; returns what it printed. */
export async function ok(...args: string[]): Promise<string> {
  const r = await doom(...args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** Runs a command that must fail with exit 1 and print nothing on stdout; returns stderr. */
export async function fails(...args: string[]): Promise<string> {
  const r = await doom(...args);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  return r.stderr;
}

/** Settings that would make the CLI talk to a real forge or read another config. */
const scrubbed = [
  'APP_ID',
  'PRIVATE_KEY',
  'PRIVATE_KEY_PATH',
  'WEBHOOK_SECRET',
  'GITHUB_API_URL',
  'GITLAB_URL',
  'GITLAB_TOKEN',
  'GITLAB_WEBHOOK_SECRET',
  'DOOM_CONFIG',
  'PORT',
  'LOG_LEVEL',
  'DATABASE_URL',
];

/** Clears those settings for the calling test file, and puts them back after it. */
export function scrubEnvironment(): void {
  const saved = Object.fromEntries(scrubbed.map((k) => [k, process.env[k]]));
  beforeAll(() => {
    for (const k of scrubbed) delete process.env[k];
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}
