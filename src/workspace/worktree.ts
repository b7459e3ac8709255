/**
 * A workspace is a `git worktree` of a cached mirror: it shares the mirror's objects, so it
 * costs a checkout, not a clone. Its `.git` file points into the mirror, whose config holds the
 * remote URL without any credential (credentials only ever travel in a git command's env).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from './git.js';

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
  const { mirror, branch, signal } = options;
  await git(['check-ref-format', '--branch', branch]);
  const baseSha = await resolveBase(mirror, options.base);
  // Forget worktrees of crashed runs, so their branch does not count as checked out.
  await git(['--git-dir', mirror, 'worktree', 'prune']);
  await mkdir(options.root, { recursive: true });
  const path = join(options.root, `${branch.replace(/[^A-Za-z0-9._-]+/g, '-')}-${randomBytes(4).toString('hex')}`);
  // Checking out the files is most of the cost of a warm workspace; parallel checkout
  // (one worker per core) trims it.
  await git(['--git-dir', mirror, 'worktree', 'add', '--quiet', '--no-track', '-B', branch, path, baseSha], {
    signal,
    config: { 'checkout.workers': '0' },
  });
  let gitDir: string;
  try {
    gitDir = await git(['rev-parse', '--absolute-git-dir'], { cwd: path });
  } catch (error) {
    await removeWorktree(mirror, path, branch);
    throw error;
  }
  let removed: Promise<void> | null = null;
  return {
    path,
    branch,
    baseSha,
    mirror,
    gitDir,
    remove: () => (removed ??= removeWorktree(mirror, path, branch)),
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
