import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../src/util/mutex.js';
import { FileLock } from '../../src/workspace/lock.js';
import { tempDir } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => (dir = await tempDir()));
afterEach(() => dir.cleanup());

describe('KeyedMutex', () => {
  it('runs one task per key at a time, other keys in parallel', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const task = (key: string, name: string, ms: number) =>
      m.run(key, async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
      });
    await Promise.all([task('a', 'a1', 30), task('a', 'a2', 1), task('b', 'b1', 1)]);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    expect(m.isLocked('a')).toBe(false);
  });
});

describe('FileLock', () => {
  it('is exclusive and released', async () => {
    const path = join(dir.path, 'x.lock');
    const lock = await FileLock.tryAcquire(path);
    expect(lock).not.toBeNull();
    expect(await FileLock.tryAcquire(path)).toBeNull();
    await lock!.release();
    await expect(stat(path)).rejects.toThrow();
    const again = await FileLock.tryAcquire(path);
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('takes over the lock of a dead process on this host', async () => {
    const path = join(dir.path, 'x.lock');
    await writeFile(path, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), token: 'dead' }));
    const lock = await FileLock.tryAcquire(path);
    expect(lock).not.toBeNull();
    expect(await readFile(path, 'utf8')).not.toContain('dead');
    await lock!.release();
  });

  it('takes over a lock whose heartbeat stopped, not a fresh one from another host', async () => {
    const path = join(dir.path, 'x.lock');
    await writeFile(path, JSON.stringify({ pid: 1, host: 'other-pod', token: 'far' }));
    expect(await FileLock.tryAcquire(path, { staleMs: 60_000 })).toBeNull();
    const old = new Date(Date.now() - 120_000);
    await utimes(path, old, old);
    const lock = await FileLock.tryAcquire(path, { staleMs: 60_000 });
    expect(lock).not.toBeNull();
    await lock!.release();
  });

  it('waits for the holder', async () => {
    const path = join(dir.path, 'x.lock');
    const first = (await FileLock.tryAcquire(path))!;
    setTimeout(() => void first.release(), 100);
    const second = await FileLock.acquire(path, { timeoutMs: 5_000 });
    await second.release();
  });
});
