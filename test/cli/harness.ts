/** Runs the `doom` CLI in this process with the shipped config, capturing what it prints. */
import { expect, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { shippedConfigPath } from '../tiers/fixtures.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `doom --config <shipped> …args`, capturing both streams. */
export async function doom(...args: string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (sink: string[]) => (chunk: string | Uint8Array) => {
    sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture(stdout) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture(stderr) as typeof process.stderr.write);
  try {
    const code = await main(['node', 'doom', '--config', shippedConfigPath, ...args]);
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
