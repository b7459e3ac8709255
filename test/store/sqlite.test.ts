import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExpectedError } from '../../src/errors.js';
import { audit } from '../../src/store/audit.js';
import { openStore } from '../../src/store/db.js';
import { isBusyError, retryWhileBusy, StoreBusyError } from '../../src/store/sqlite.js';
import { scratchDir } from '../tiers/fixtures.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

describe('retryWhileBusy', () => {
  it('retries while SQLite answers busy, then gives up with an expected error naming the wait', async () => {
    let calls = 0;
    const error = await retryWhileBusy(() => {
      calls++;
      throw busy();
    }, 3).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(StoreBusyError);
    expect(error).toBeInstanceOf(ExpectedError);
    expect((error as Error).message).toMatch(/^the store is locked by another process \(waited \d+\.\d s\); try again in a moment$/);
  });

  it('returns once the lock is free, and passes any other error through untouched', async () => {
    let calls = 0;
    expect(await retryWhileBusy(() => (++calls < 3 ? Promise.reject(busy()) : 'done'))).toBe('done');
    const other = new Error('no such table');
    await expect(retryWhileBusy(() => Promise.reject(other))).rejects.toBe(other);
  });

  it('knows SQLite busy codes from others', () => {
    expect(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED'].map((code) => isBusyError({ code }))).toEqual([true, true, true]);
    expect([{ code: 'SQLITE_CONSTRAINT' }, new Error('x'), null, 'SQLITE_BUSY'].map(isBusyError)).toEqual([false, false, false, false]);
  });
});

describe('a transaction while another process holds the write lock', () => {
  // A deferred `begin` that reads, then writes after the other process committed, fails at
  // once with SQLITE_BUSY_SNAPSHOT: the busy timeout cannot help a stale snapshot.
  it('waits for the lock instead of failing, and reads what the other process wrote', async () => {
    const path = join(scratchDir(), 'x.db');
    const store = await openStore(path);
    // Another process takes the write lock, says so, and keeps it for a moment.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = require('better-sqlite3')(${JSON.stringify(path)}); db.exec('begin immediate');
         db.prepare("insert into audit_log (at, event, actor, data) values ('now', 'other.write', 'other', '{}')").run();
         console.log('locked'); setTimeout(() => { db.exec('commit'); db.close(); }, 800);`,
      ],
      { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const seen = await store.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('audit_log').select('event').execute();
      await audit(trx, { event: 'test.write', actor: 'test' });
      return rows.length;
    });
    expect(seen).toBe(1);
    expect(await store.db.selectFrom('audit_log').select('event').orderBy('id').execute()).toEqual([{ event: 'other.write' }, { event: 'test.write' }]);
    await new Promise((resolve) => holder.once('exit', resolve));
    await store.close();
  });
});
