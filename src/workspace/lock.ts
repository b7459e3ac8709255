/**
 * The mirror cache's lock file, so two bot processes (replicas sharing a volume) never clone
 * into or fetch into or evict the same mirror at once. Within one process the cache uses a
 * KeyedMutex (src/util/mutex.ts) first.
 */
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileLockOptions {
  /** Give up waiting after this long. */
  timeoutMs?: number;
  /**
   * A lock whose file was not touched for this long is taken over. The holder touches it every
   * `staleMs / 4`, so only a crashed holder's lock goes stale, however long a clone takes.
   */
  staleMs?: number;
  signal?: AbortSignal;
}

interface Owner {
  pid: number;
  host: string;
  token: string;
}

/**
 * A lock file created with O_EXCL. Crashed holders are detected by a dead pid on the same host,
 * or by the heartbeat going quiet (pids mean nothing across containers).
 */
export class FileLock {
  private constructor(
    readonly path: string,
    private readonly token: string,
    private readonly heartbeat: NodeJS.Timeout,
  ) {}

  /** Takes the lock, or returns null at once when someone else holds it. */
  static async tryAcquire(path: string, options: Pick<FileLockOptions, 'staleMs'> = {}): Promise<FileLock | null> {
    const staleMs = options.staleMs ?? 60_000;
    const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const owner: Owner = { pid: process.pid, host: hostname(), token };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        try {
          await handle.writeFile(JSON.stringify(owner));
        } finally {
          await handle.close();
        }
        const beat = setInterval(() => {
          const now = new Date();
          utimes(path, now, now).catch(() => undefined);
        }, Math.max(250, Math.floor(staleMs / 4)));
        beat.unref();
        return new FileLock(path, token, beat);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (!(await removeIfStale(path, staleMs))) return null;
      }
    }
    return null;
  }

  /** Waits (polling) until the lock is free, then takes it. */
  static async acquire(path: string, options: FileLockOptions = {}): Promise<FileLock> {
    const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
    let delay = 50;
    for (;;) {
      options.signal?.throwIfAborted();
      const lock = await FileLock.tryAcquire(path, options);
      if (lock) return lock;
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${path}`);
      await sleep(delay, undefined, { signal: options.signal });
      delay = Math.min(delay * 2, 1000);
    }
  }

  async release(): Promise<void> {
    clearInterval(this.heartbeat);
    // Only delete the file if it is still ours (a takeover after a long stall replaces it).
    const owner = await readOwner(this.path);
    if (owner?.token === this.token) await unlink(this.path).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<Owner | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (parsed && typeof parsed === 'object' && 'pid' in parsed && 'host' in parsed && 'token' in parsed) {
      const { pid, host, token } = parsed as Record<string, unknown>;
      if (typeof pid === 'number' && typeof host === 'string' && typeof token === 'string') return { pid, host, token };
    }
    return null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock; true when the caller should try again. The file is re-read just before
 * unlinking and left alone if it changed, which narrows (not closes) the window where two
 * waiters both take over the same stale lock: acceptable for a holder that already crashed.
 */
async function removeIfStale(path: string, staleMs: number): Promise<boolean> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return true; // released meanwhile
  }
  const owner = await readOwner(path);
  const quiet = Date.now() - info.mtimeMs > staleMs;
  // An unreadable file younger than staleMs is most likely being written right now.
  const dead = owner !== null && owner.host === hostname() && !processAlive(owner.pid);
  if (!quiet && !dead) return false;
  const again = await readOwner(path);
  if (again?.token !== owner?.token) return false;
  await unlink(path).catch(() => undefined);
  return true;
}
