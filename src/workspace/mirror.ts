/**
 * One bare mirror per repository, cloned once and fetched before each run, so the Nth run on a
 * repository costs a fetch and a `git worktree add` instead of a full clone.
 *
 * Layout under `root` (the cache owns the whole directory):
 *   <key>.git/           bare repository; remote heads in refs/remotes/origin/*, tags in refs/tags/*
 *   <key>.git/doom-mirror.json   creation marker (key, url without credential, id, time)
 *   <key>.git/doom-last-used     its mtime orders eviction (least recently used first)
 *   <key>.lock           lock file held for every git step that changes the mirror (below)
 *   .tmp/                clones in progress and mirrors being deleted
 *
 * Remote branches land in refs/remotes/origin/*, not refs/heads/*: the run branches live in
 * refs/heads/* of the same repository (checked out in worktrees), and a `--prune` fetch must
 * neither delete them nor refuse to update a branch that a worktree has checked out.
 *
 * Runs of one repository share the mirror, and git does not make the steps that change its
 * shared state safe against each other: a fetch (its connectivity check reads every worktree's
 * HEAD) racing a `worktree add` (which writes a placeholder HEAD first) fails with `bad object
 * worktrees/…/HEAD`, and a prune or gc racing an add or remove fails or loses a worktree. So
 * fetch, worktree add, worktree remove/prune and gc all run under the mirror's lock
 * (`exclusive()`; worktrees take it through `lockFor()`): a KeyedMutex within the process,
 * then the lock file across processes. Automatic gc is switched off in the mirror (`gc.auto
 * 0`), so neither the bot's commit nor an agent's git starts one unlocked; the locked fetch
 * collects garbage instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertNoCredentialInUrl, git, redact, type GitCredential } from './git.js';
import { KeyedMutex } from '../util/mutex.js';
import { FileLock } from './lock.js';

export interface MirrorCacheOptions {
  root: string;
  /** Evict least-recently-used mirrors (not in use) until the cache fits in this many bytes. */
  diskBudgetBytes: number;
  /**
   * A mirror used (ensured) more recently than this is never evicted. It covers the gap between
   * `ensure()` and `git worktree add`, when nothing on disk says the mirror is about to be used.
   */
  evictGraceMs?: number;
  /** How long a step waits for another process holding the mirror's lock. */
  lockTimeoutMs?: number;
  /** For metrics and logs: clone/fetch durations, evictions. */
  onEvent?: (event: MirrorEvent) => void;
  /** Upper bound of one clone or fetch from the forge. Default GIT_NETWORK_TIMEOUT_MS. */
  networkTimeoutMs?: number;
}

/**
 * Every git command that talks to a forge ends: a hard bound (the evaluator fetches inside an
 * inbox slot, with no other deadline), and a stall cut-off well before it, so a connection
 * that stopped moving fails in a minute however large the repository.
 */
export const GIT_NETWORK_TIMEOUT_MS = 10 * 60_000;
export const GIT_STALL_CONFIG: Readonly<Record<string, string>> = { 'http.lowSpeedLimit': '1000', 'http.lowSpeedTime': '60' };

export type MirrorEvent =
  | { type: 'clone' | 'fetch'; key: string; ms: number }
  | { type: 'evict'; key: string; bytes: number };

/** Runs one step holding a mirror's lock (see `MirrorCache.lockFor`). */
export type MirrorLock = <T>(step: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

export interface MirrorUsage {
  key: string;
  path: string;
  bytes: number;
  lastUsedMs: number;
}

/** git's own default for `gc.auto`, for the one command that may collect garbage. */
const GC_AUTO = '6700';
const KEY = /^[a-z0-9][a-z0-9._-]{0,199}$/;
const MARKER = 'doom-mirror.json';
const LAST_USED = 'doom-last-used';

/**
 * The cache key for a repository: readable (`github-com-octo-repo-…`) and collision-free (a
 * hash of the exact forge + path, lowercased because both forges match paths case-insensitively).
 */
export function mirrorKey(forge: string, repoPath: string): string {
  const raw = `${forge}/${repoPath}`.toLowerCase();
  const readable = raw.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80).replace(/-+$/, '');
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 12);
  return `${readable || 'repo'}-${hash}`;
}

/** The only local config keys a mirror has: what `git init --bare` and `clone()` write. */
const ALLOWED_CONFIG = new Set([
  'core.repositoryformatversion',
  'core.filemode',
  'core.bare',
  'core.ignorecase',
  'core.precomposeunicode',
  'core.symlinks',
  'core.logallrefupdates',
  'remote.origin.url',
  'remote.origin.fetch',
  'gc.auto',
]);

/**
 * Refuses a mirror whose config holds anything the bot did not write. Repository config can
 * redirect where the credential goes (`url.*.insteadOf`, `http.proxy`, `include.path`) or run
 * commands (`filter.*`, `core.sshCommand`); command-line overrides cannot blank all of those,
 * so a mirror someone tampered with is rejected before the bot runs a credentialed command.
 */
export async function checkMirrorConfig(mirror: string): Promise<void> {
  const names = await git(['--git-dir', mirror, 'config', '--local', '--name-only', '--list']);
  // Upstream settings of a local branch only name a remote, and only origin is allowed.
  const allowed = (n: string) => ALLOWED_CONFIG.has(n) || /^branch\..+\.(remote|merge)$/.test(n);
  const foreign = [...new Set(names.split('\n').filter((n) => n !== '' && !allowed(n.toLowerCase())))];
  if (foreign.length > 0) {
    throw new Error(`mirror ${mirror} has unexpected config (${foreign.join(', ')}); refusing to use it, evict or inspect it`);
  }
}

export class MirrorCache {
  private readonly mutex = new KeyedMutex();
  private readonly graceMs: number;

  constructor(private readonly options: MirrorCacheOptions) {
    this.graceMs = options.evictGraceMs ?? 15 * 60_000;
  }

  get root(): string {
    return this.options.root;
  }

  pathOf(key: string): string {
    return join(this.options.root, `${key}.git`);
  }

  /** The time limits of a git step that talks to the remote, plus that step's own `config`. */
  private networkBounds(config: Record<string, string> = {}): { timeoutMs: number; config: Record<string, string> } {
    return { timeoutMs: this.options.networkTimeoutMs ?? GIT_NETWORK_TIMEOUT_MS, config: { ...GIT_STALL_CONFIG, ...config } };
  }

  private lockPath(key: string): string {
    return join(this.options.root, `${key}.lock`);
  }

  /**
   * Runs `step` holding the mirror's lock: after every other step on this key in this process
   * (in arrival order), and while no other process holds the lock file.
   */
  async exclusive<T>(key: string, step: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!KEY.test(key)) throw new Error(`invalid mirror key ${JSON.stringify(key)}; build one with mirrorKey()`);
    await mkdir(this.options.root, { recursive: true });
    return this.mutex.run(key, async () => {
      const lock = await FileLock.acquire(this.lockPath(key), { timeoutMs: this.options.lockTimeoutMs, signal });
      try {
        return await step();
      } finally {
        await lock.release();
      }
    });
  }

  /** The mirror's lock as a function, for `createWorkspace` (worktree add and remove). */
  lockFor(key: string): MirrorLock {
    return (step, signal) => this.exclusive(key, step, signal);
  }

  /**
   * Returns the bare mirror for `key`, up to date with `cloneUrl`: cloned on first use, fetched
   * (with prune) afterwards, under the mirror's lock; a clone is built in a temporary directory
   * and renamed into place, so a crash never leaves a half-cloned mirror behind.
   */
  async ensure(key: string, cloneUrl: string, credential?: GitCredential, signal?: AbortSignal): Promise<string> {
    if (!KEY.test(key)) throw new Error(`invalid mirror key ${JSON.stringify(key)}; build one with mirrorKey()`);
    assertNoCredentialInUrl(cloneUrl);
    await mkdir(join(this.options.root, '.tmp'), { recursive: true });
    return this.exclusive(
      key,
      async () => {
        const path = this.pathOf(key);
        const started = performance.now();
        if (await exists(join(path, MARKER))) {
          await this.fetch(path, cloneUrl, credential, signal);
          this.options.onEvent?.({ type: 'fetch', key, ms: performance.now() - started });
        } else {
          await this.clone(key, path, cloneUrl, credential, signal);
          this.options.onEvent?.({ type: 'clone', key, ms: performance.now() - started });
        }
        await writeFile(join(path, LAST_USED), new Date().toISOString());
        return path;
      },
      signal,
    );
  }

  private async fetch(path: string, url: string, credential: GitCredential | undefined, signal?: AbortSignal): Promise<void> {
    await checkMirrorConfig(path);
    const current = await git(['--git-dir', path, 'config', '--get', 'remote.origin.url']).catch(() => '');
    if (current !== url) await git(['--git-dir', path, 'config', 'remote.origin.url', url]);
    // Mirrors made before automatic gc was switched off get the setting now.
    const gcAuto = await git(['--git-dir', path, 'config', '--get', 'gc.auto']).catch(() => '');
    if (gcAuto !== '0') await git(['--git-dir', path, 'config', 'gc.auto', '0']);
    // The fetch's own `gc --auto` (in the foreground: gc.autoDetach is off) is the one gc the
    // mirror gets, and it runs under the lock.
    await git(['--git-dir', path, 'fetch', '--quiet', '--prune', '--no-recurse-submodules', '--no-write-fetch-head', 'origin'], {
      credential,
      signal,
      ...this.networkBounds({ 'gc.auto': GC_AUTO }),
    });
  }

  private async clone(key: string, path: string, url: string, credential: GitCredential | undefined, signal?: AbortSignal): Promise<void> {
    const tmpRoot = join(this.options.root, '.tmp');
    // We hold the key's lock, so any temporary clone of this key is a crashed attempt.
    for (const name of await readdir(tmpRoot)) {
      if (name.startsWith(`${key}~`)) await rm(join(tmpRoot, name), { recursive: true, force: true });
    }
    await rm(path, { recursive: true, force: true }); // a directory without a marker is not a mirror
    const tmp = join(tmpRoot, `${key}~${randomBytes(6).toString('hex')}`);
    try {
      await git(['init', '--quiet', '--bare', tmp]);
      const cfg = (...args: string[]) => git(['--git-dir', tmp, 'config', ...args]);
      await cfg('remote.origin.url', url);
      await cfg('--add', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*');
      await cfg('--add', 'remote.origin.fetch', '+refs/tags/*:refs/tags/*');
      await cfg('gc.auto', '0'); // see the header: only the locked fetch collects garbage
      await git(['--git-dir', tmp, 'fetch', '--quiet', '--no-recurse-submodules', '--no-write-fetch-head', 'origin'], {
        credential,
        signal,
        ...this.networkBounds(),
      });
      const marker: MirrorMarker = { key, url: redact(url), id: randomBytes(8).toString('hex'), createdAt: new Date().toISOString() };
      await writeFile(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
  }

  /** Every mirror in the cache with its size on disk and last use. */
  async usage(): Promise<MirrorUsage[]> {
    let names: string[];
    try {
      names = await readdir(this.options.root);
    } catch {
      return [];
    }
    const out: MirrorUsage[] = [];
    for (const name of names) {
      if (!name.endsWith('.git')) continue;
      const path = join(this.options.root, name);
      if (!(await exists(join(path, MARKER)))) continue;
      try {
        out.push({ key: name.slice(0, -'.git'.length), path, bytes: await diskUsage(path), lastUsedMs: await lastUsed(path) });
      } catch {
        // Evicted by another process while we were measuring it.
      }
    }
    return out;
  }

  /**
   * Removes least-recently-used mirrors until the cache fits the budget, skipping any in use:
   * locked (being cloned or fetched, here or in another process), with a live worktree, or
   * ensured within the grace period. Returns the evicted keys. Call it after runs.
   */
  async evict(): Promise<string[]> {
    const mirrors = await this.usage();
    let total = mirrors.reduce((sum, m) => sum + m.bytes, 0);
    const evicted: string[] = [];
    if (total <= this.options.diskBudgetBytes) return evicted;
    mirrors.sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    for (const mirror of mirrors) {
      if (total <= this.options.diskBudgetBytes) break;
      if (this.mutex.isLocked(mirror.key)) continue;
      const gone = await this.mutex.run(mirror.key, async () => {
        const lock = await FileLock.tryAcquire(this.lockPath(mirror.key));
        if (!lock) return false;
        try {
          if (Date.now() - (await lastUsed(mirror.path)) < this.graceMs) return false;
          await git(['--git-dir', mirror.path, 'worktree', 'prune']);
          if (await hasWorktrees(mirror.path)) return false;
          // Rename first: a crash mid-delete must not leave a broken mirror under the real name.
          const trash = join(this.options.root, '.tmp', `trash~${randomBytes(6).toString('hex')}`);
          await mkdir(join(this.options.root, '.tmp'), { recursive: true });
          await rename(mirror.path, trash);
          await rm(trash, { recursive: true, force: true });
          return true;
        } finally {
          await lock.release();
        }
      });
      if (gone) {
        total -= mirror.bytes;
        evicted.push(mirror.key);
        this.options.onEvent?.({ type: 'evict', key: mirror.key, bytes: mirror.bytes });
      }
    }
    return evicted;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function lastUsed(mirror: string): Promise<number> {
  try {
    return (await stat(join(mirror, LAST_USED))).mtimeMs;
  } catch {
    return (await stat(mirror)).mtimeMs;
  }
}

async function hasWorktrees(mirror: string): Promise<boolean> {
  try {
    return (await readdir(join(mirror, 'worktrees'))).length > 0;
  } catch {
    return false;
  }
}

/** Bytes allocated on disk (blocks), like `du`, so many small files count what they cost. */
export async function diskUsage(path: string): Promise<number> {
  const info = await lstat(path);
  let total = info.blocks > 0 ? info.blocks * 512 : info.size;
  if (info.isDirectory()) {
    for (const name of await readdir(path)) total += await diskUsage(join(path, name));
  }
  return total;
}

/** What `clone()` writes once into a new mirror; `id` changes only if the mirror is re-cloned. */
export interface MirrorMarker {
  key: string;
  url: string;
  id: string;
  createdAt: string;
}

export async function readMirrorMarker(mirror: string): Promise<MirrorMarker> {
  return JSON.parse(await readFile(join(mirror, MARKER), 'utf8')) as MirrorMarker;
}
