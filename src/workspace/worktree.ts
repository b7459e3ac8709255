/**
 * A workspace is a `git worktree` of a cached mirror: it shares the mirror's objects, so it
 * costs a checkout, not a clone. Its `.git` file points into the mirror, whose config holds the
 * remote URL without any credential (credentials only ever travel in a git command's env).
 *
 * Adding and removing a worktree change the mirror's `worktrees/` directory, which every fetch
 * and gc of the same mirror reads: both run under the mirror's lock (see mirror.ts).
 *
 * ```ts
 * const mirror = await mirrors.ensure(key, cloneUrl, credential);
 * const ws = await createWorkspace({ mirror, lock: mirrors.lockFor(key), root, branch, base: 'main' });
 * try { ... } finally { await ws.remove(); }
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from './git.js';
import type { MirrorLock } from './mirror.js';

export interface Workspace {
  /** The working directory the agent runs in. */
  readonly path: string;
  readonly branch: string;
  /** The commit of the default branch the run started from. */
  readonly baseSha: string;
  /** The bare mirror the worktree belongs to (objects, refs, remote URL). */
  readonly mirror: string;
  /**
   * The worktree's own git directory inside the mirror, recorded at creation. The bot's later
   * git commands use it (GIT_DIR) instead of following the `.git` file, which the agent could
   * have replaced with a repository of its own, hooks and config included.
   */
  readonly gitDir: string;
  /** Removes the worktree, its directory and its local branch; safe to call twice. */
  remove(): Promise<void>;
}

export interface CreateWorkspaceOptions {
  mirror: string;
  /** The mirror's lock (`MirrorCache.lockFor(key)`), held while adding and removing the worktree. */
  lock: MirrorLock;
  /** Directory under which workspaces are created (one fresh subdirectory per run). */
  root: string;
  branch: string;
  /** The default branch (`main`), or any commit-ish the mirror knows. */
  base: string;
  signal?: AbortSignal;
}

/** Resolves `base` as a remote branch of the mirror first, then as any commit-ish. */
async function resolveBase(mirror: string, base: string): Promise<string> {
  for (const candidate of [`refs/remotes/origin/${base}`, base]) {
    try {
      return await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${candidate}^{commit}`]);
    } catch {
      // try the next spelling
    }
  }
  throw new Error(`base ${JSON.stringify(base)} is neither a branch of the mirror's remote nor a commit in ${mirror}`);
}

/**
 * Adds a worktree on `branch`, reset to the tip of `base` (`-B`: a retry of the same task starts
 * over from the default branch instead of failing because the branch exists).
 */
export async function createWorkspace(options: CreateWorkspaceOptions): Promise<Workspace> {
  const { mirror, branch, lock, signal } = options;
  await git(['check-ref-format', '--branch', branch]);
  await mkdir(options.root, { recursive: true });
  const path = join(options.root, `${branch.replace(/[^A-Za-z0-9._-]+/g, '-')}-${randomBytes(4).toString('hex')}`);
  const unlocked = () => removeWorktree(mirror, path, branch);
  const baseSha = await lock(async () => {
    const sha = await resolveBase(mirror, options.base);
    // Forget worktrees of crashed runs, so their branch does not count as checked out.
    await git(['--git-dir', mirror, 'worktree', 'prune']);
    // Checking out the files is most of the cost of a warm workspace; parallel checkout
    // (one worker per core) trims it.
    await git(['--git-dir', mirror, 'worktree', 'add', '--quiet', '--no-track', '-B', branch, path, sha], {
      signal,
      config: { 'checkout.workers': '0' },
    }).catch(async (error: unknown) => {
      await unlocked(); // an aborted add can leave a half-registered worktree
      throw error;
    });
    return sha;
  }, signal);
  let gitDir: string;
  try {
    gitDir = await git(['rev-parse', '--absolute-git-dir'], { cwd: path });
  } catch (error) {
    await lock(unlocked);
    throw error;
  }
  let removed: Promise<void> | null = null;
  return {
    path,
    branch,
    baseSha,
    mirror,
    gitDir,
    // Never cancelled: a run that was aborted still owes the mirror its cleanup.
    remove: () => (removed ??= lock(unlocked)),
  };
}

/**
 * Deletes the worktree and its registration, then the local branch: by now it was pushed (or the
 * run is abandoned), and stale branches would pin objects in a mirror that lives for months.
 */
async function removeWorktree(mirror: string, path: string, branch: string): Promise<void> {
  // Double --force also removes a worktree the agent locked.
  await git(['--git-dir', mirror, 'worktree', 'remove', '--force', '--force', path]).catch(() => undefined);
  await rm(path, { recursive: true, force: true });
  await git(['--git-dir', mirror, 'worktree', 'prune']);
  // Fails harmlessly when another live worktree (a concurrent run of the same task) has it.
  await git(['--git-dir', mirror, 'branch', '--quiet', '-D', branch]).catch(() => undefined);
}
