/**
 * After the agent exits, the bot records its work as one commit under the bot's identity and
 * pushes it. The agent never sees the credential: it exists only in the env of `git push`.
 */
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { assertNoCredentialInUrl, git, type GitCredential } from './git.js';
import { checkMirrorConfig, GIT_NETWORK_TIMEOUT_MS, GIT_STALL_CONFIG } from './mirror.js';
import type { Workspace } from './worktree.js';
import { sanitizeName } from '../util/sanitize.js';

/**
 * The worktree's git dir names its repository in `commondir`; whoever can run git in the
 * worktree can rewrite that file, so check it still leads to the mirror before trusting it.
 */
async function checkWorkspace(workspace: Workspace): Promise<void> {
  const raw = (await readFile(join(workspace.gitDir, 'commondir'), 'utf8')).trim();
  const common = isAbsolute(raw) ? raw : resolve(workspace.gitDir, raw);
  const [actual, expected] = await Promise.all([realpath(common), realpath(workspace.mirror)]);
  if (actual !== expected) throw new Error(`workspace ${workspace.path} no longer belongs to mirror ${workspace.mirror}`);
  await checkMirrorConfig(workspace.mirror);
}

export interface BotIdentity {
  name: string;
  email: string;
}

/**
 * A commit message naming the task and the agent, with trailers tools can grep for. The
 * subject comes from the issue title, sanitized (no hidden comments, bidi or zero-width
 * characters): what `git log` shows is what the issue showed.
 */
export function commitMessage(input: { taskId: number | string; title: string; agent: string; issueUrl?: string }): string {
  const lines = [
    `doom: ${sanitizeName(input.title, 64) || 'task'} (task ${input.taskId})`,
    '',
    `Doom-Task: ${input.taskId}`,
    `Doom-Agent: ${sanitizeName(input.agent, 100)}`,
  ];
  if (input.issueUrl) lines.push(`Doom-Issue: ${input.issueUrl}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The message of the commit that keeps the work of an agent stopped by its budget on the
 * task's branch, for the escalated agent to continue from (no merge request yet).
 */
export function keptWorkMessage(input: { taskId: number | string; title: string; agent: string; stop: 'timeout' | 'token_limit' }): string {
  const why = input.stop === 'timeout' ? 'ran out of time' : 'ran out of tokens';
  return [
    `doom: work in progress, ${sanitizeName(input.title, 48) || 'task'} (task ${input.taskId})`,
    '',
    `The agent ${why}; this is its work so far, kept for the agent the task was escalated to.`,
    '',
    `Doom-Task: ${input.taskId}`,
    `Doom-Agent: ${sanitizeName(input.agent, 100)}`,
    `Doom-Stopped: ${input.stop}`,
    '',
  ].join('\n');
}

/**
 * Stages everything in the worktree on top of the base and writes it as a tree. Whatever the
 * agent did with git itself (commits, staging, switching branches) is folded in: the branch
 * is put back on the base and the files on disk are what gets staged. Returns the tree's id,
 * or null when it equals the base's (nothing to publish). A tree is immutable: the guards
 * inspect it (workspace/changes.ts) and {@link commitTree} commits that very tree, so nothing
 * the agent left running can slip a file in between the check and the commit.
 */
export async function stageAll(workspace: Workspace): Promise<string | null> {
  await checkWorkspace(workspace);
  const run = workspaceGit(workspace);
  const ref = `refs/heads/${workspace.branch}`;
  await run(['update-ref', ref, workspace.baseSha]);
  await run(['symbolic-ref', 'HEAD', ref]);
  await run(['add', '--all']);
  const tree = await run(['write-tree']);
  const baseTree = await run(['rev-parse', `${workspace.baseSha}^{tree}`]);
  return tree === baseTree ? null : tree;
}

/** Commits `tree` (from {@link stageAll}) on the base, authored and committed by the bot; returns the sha. */
export async function commitTree(workspace: Workspace, tree: string, options: { author: BotIdentity; message: string }): Promise<string> {
  if (options.message.trim() === '') throw new Error('commit message is empty');
  // The mirror itself, not the worktree's git dir: whatever a leftover process did to the
  // worktree's pointers after stageAll does not decide where the commit goes.
  const run = (args: string[], env: Record<string, string> = {}) => git(['--git-dir', workspace.mirror, ...args], { env });
  const { name, email } = options.author;
  const sha = await run(['commit-tree', '--no-gpg-sign', tree, '-p', workspace.baseSha, '-m', options.message.replace(/\n$/, '')], {
    GIT_AUTHOR_NAME: name,
    GIT_AUTHOR_EMAIL: email,
    GIT_COMMITTER_NAME: name,
    GIT_COMMITTER_EMAIL: email,
  });
  await run(['update-ref', `refs/heads/${workspace.branch}`, sha]);
  return sha;
}

const workspaceGit =
  (workspace: Workspace) =>
  (args: string[], extra: Record<string, string> = {}): Promise<string> =>
    git(args, { cwd: workspace.path, env: { GIT_DIR: workspace.gitDir, GIT_WORK_TREE: workspace.path, ...extra } });

/**
 * Commits everything in the worktree as one commit on top of the base ({@link stageAll},
 * then {@link commitTree}). Returns the new commit's sha, or null when the files equal the
 * base (nothing to publish).
 */
export async function commitAll(workspace: Workspace, options: { author: BotIdentity; message: string }): Promise<string | null> {
  if (options.message.trim() === '') throw new Error('commit message is empty');
  const tree = await stageAll(workspace);
  return tree ? commitTree(workspace, tree, options) : null;
}

export interface PushOptions {
  /** Usually the mirror's clone URL; never with a credential in it. */
  remoteUrl: string;
  credential?: GitCredential;
  /**
   * What the remote branch must still point at for the push to go through; null means "must
   * not exist". Defaults to what the mirror saw at its last fetch (the `ensure()` before this
   * run), which is right when `remoteUrl` is the mirror's own remote.
   */
  expectedRemoteSha?: string | null;
  signal?: AbortSignal;
  /** Upper bound of the push. Default GIT_NETWORK_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * Pushes the workspace branch with a lease. The branch belongs to the bot, and a retry of the
 * same task starts again from the default branch, so it must be allowed to rewrite it (a plain
 * push would be refused as non-fast-forward). But a blind `--force` would also throw away
 * commits a person pushed to that branch while the agent was running; the lease on the sha the
 * mirror fetched before the run rewrites only what the bot already knew about, and rejects the
 * push (GitError, "stale info"/"rejected") when the branch moved since.
 *
 * Pushes from the mirror's git dir, with an explicit URL and refspec: neither the worktree's
 * `.git` pointer nor any remote configuration the agent could have edited decides where the
 * credential goes.
 */
export async function push(workspace: Workspace, options: PushOptions): Promise<void> {
  const { mirror, branch } = workspace;
  const ref = `refs/heads/${branch}`;
  const tracking = `refs/remotes/origin/${branch}`;
  assertNoCredentialInUrl(options.remoteUrl);
  await checkMirrorConfig(mirror);
  const sha = await git(['--git-dir', mirror, 'rev-parse', '--verify', `${ref}^{commit}`]);
  const origin = await git(['--git-dir', mirror, 'config', '--get', 'remote.origin.url']).catch(() => '');
  const toOrigin = origin === options.remoteUrl;
  let expected = options.expectedRemoteSha;
  if (expected === undefined) {
    if (!toOrigin) throw new Error(`pushing to a remote other than the mirror's origin needs an explicit expectedRemoteSha`);
    expected = await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', tracking]).catch(() => null);
  }
  await git(
    ['--git-dir', mirror, 'push', '--quiet', '--no-verify', `--force-with-lease=${ref}:${expected ?? ''}`, options.remoteUrl, `${sha}:${ref}`],
    {
      credential: options.credential,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? GIT_NETWORK_TIMEOUT_MS,
      config: { ...GIT_STALL_CONFIG },
    },
  );
  // Pushing to a URL updates no tracking ref; record it so a second push in the same run
  // (after a repair phase) leases against what we just pushed.
  if (toOrigin) await git(['--git-dir', mirror, 'update-ref', tracking, sha]);
}
