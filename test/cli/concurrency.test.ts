/**
 * Many `doom` processes on the server's SQLite file at once: read commands never take the write
 * lock, writers wait for it, and nothing prints a stack trace.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { audit } from '../../src/store/audit.js';
import { repoRoot, startTestApp, type TestApp } from '../helpers/app.js';

const run = promisify(execFile);

let app: TestApp;
beforeEach(async () => {
  app = await startTestApp();
});
afterEach(async () => {
  await app.close();
});

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

async function doomProcess(...args: string[]): Promise<Exit> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: app.dbPath, DOOM_CONFIG: join(repoRoot, 'config/doom-rlvr.toml') };
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin/doom.js'), ...args], { env, timeout: 400_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('doom beside a running server', () => {
  it('runs `doom status` 30 times in parallel, and writers beside them, with clean exits', { timeout: 600_000 }, async () => {
    if (app.store.dialect !== 'sqlite') return; // the lock is SQLite's; Postgres has no such failure
    // One run first, so the 30 share tsx's compile cache instead of all compiling the CLI at once.
    expect((await doomProcess('status')).code).toBe(0);
    let writing = true;
    const writes = (async () => {
      let n = 0;
      while (writing) {
        await app.store.db.transaction().execute(async (trx) => {
          await audit(trx, { event: 'test.write', actor: 'test', data: { n } });
          await audit(trx, { event: 'test.write', actor: 'test', data: { n: n + 1 } });
        });
        n += 2;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return n;
    })();
    const readers = Array.from({ length: 30 }, () => doomProcess('status'));
    const writers = Array.from({ length: 2 }, () => doomProcess('agents', 'sync'));
    const exits = await Promise.all([...readers, ...writers]);
    writing = false;
    expect(await writes).toBeGreaterThan(0);

    for (const exit of exits) {
      expect(exit.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(exit.code, exit.stderr).toBe(0);
    }
    for (const exit of exits.slice(0, 30)) expect(exit.stdout).toMatch(/^database\s+sqlite$/m);
  });
});
