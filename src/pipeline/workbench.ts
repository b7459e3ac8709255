/**
 * Where the pipeline's steps happen: git worktrees of the repository's mirror, one per
 * model step and one per check, each removed when its step ends. A candidate's commit stays
 * in the mirror under `refs/doom/candidates/…` (and its patch in the store), never on the
 * forge: only the winner is pushed, to the task's branch.
 *
 * ```ts
 * const bench: Bench = { mirror, lock: mirrors.lockFor(key), root: workspaceDir };
 * const out = await runAgentStep(bench, { agent, start: baseSha, branch: 'doom/5-fix--c1', prompt, limits, ... });
 * const verdict = await inCheckout(bench, out.commit!, (dir) => runCommand(['npm', 'test'], dir, 60_000));
 * ```
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { agentEnv } from '../runners/env.js';
import { createRunner } from '../runners/index.js';
import { abortReasons } from '../runners/process.js';
import type { PermissionsConfig, RunnerConfig } from '../runners/config.js';
import { emptyUsage, type Runner, type RunnerResult } from '../runners/runner.js';
import type { SandboxContext } from '../runners/sandbox.js';
import type { Confinement } from './commands.js';
import { git } from '../workspace/git.js';
import type { MirrorLock } from '../workspace/mirror.js';
import { commitTree, stageAll, type BotIdentity } from '../workspace/publish.js';
import { createWorkspace, type Workspace } from '../workspace/worktree.js';

export interface Bench {
  mirror: string;
  lock: MirrorLock;
  /** Where worktrees (and each step's throw-away HOME) are made. */
  root: string;
  sandbox?: SandboxContext;
  /** Where the repository's commands run on a candidate (commands.ts); bwrap unless said. */
  checksSandbox?: 'bwrap' | 'none';
  baseEnv?: NodeJS.ProcessEnv;
  runnerFor?: (config: RunnerConfig, permissions: PermissionsConfig, sandbox: SandboxContext) => Runner;
}

export interface StepAgent {
  name: string;
  tier: string;
  systemPrompt: string;
  toolsAllowed: string[];
  runner: RunnerConfig;
  permissions: PermissionsConfig;
}

export interface StepLimitsInput {
  maxTokens: number;
  maxUsd: number;
  timeoutMs: number;
}

export interface AgentStep {
  agent: StepAgent;
  /** The commit the worktree starts from. */
  start: string;
  branch: string;
  prompt: string;
  limits: StepLimitsInput;
  signal: AbortSignal;
  author: BotIdentity;
  message: string;
  /** Commit what the agent changed (off for the spec step, which only writes a note). */
  commit: boolean;
  /** A file to read from the worktree before it goes (the spec step's note). */
  readBack?: string;
}

export interface AgentStepResult {
  result: RunnerResult;
  commit: string | null;
  /** The text of `readBack`, null when absent. */
  readBack: string | null;
  durationMs: number;
}

const unique = (): string => randomBytes(4).toString('hex');

function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(abortReasons.timeout()), ms);
  timer.unref();
  return controller.signal;
}

/** One model-driven step in a worktree of its own; never rejects for the agent's failures. */
export async function runAgentStep(bench: Bench, step: AgentStep): Promise<AgentStepResult> {
  const started = performance.now();
  const home = join(bench.root, `.home-step-${unique()}`);
  let ws: Workspace | undefined;
  const signal = AbortSignal.any([step.signal, timeoutSignal(step.limits.timeoutMs)]);
  try {
    await mkdir(home, { recursive: true });
    ws = await createWorkspace({ mirror: bench.mirror, lock: bench.lock, root: bench.root, branch: `${step.branch}-${unique()}`, base: step.start, signal });
    const runner = (bench.runnerFor ?? createRunner)(step.agent.runner, step.agent.permissions, { ...bench.sandbox, hidden: [bench.mirror, ...(bench.sandbox?.hidden ?? [])] });
    const result = await runner.run({
      workdir: ws.path,
      prompt: step.prompt,
      systemPrompt: step.agent.systemPrompt,
      toolsAllowed: step.agent.toolsAllowed,
      maxTurns: step.agent.runner.kind === 'claude-code' ? step.agent.runner.max_turns : 0,
      maxTokens: step.limits.maxTokens,
      maxBudgetUsd: step.limits.maxUsd,
      env: agentEnv(bench.baseEnv ?? process.env, { HOME: home }),
      signal,
    });
    const readBack = step.readBack ? await readInside(ws.path, step.readBack) : null;
    // Success or a budget stop: the work is committed either way (a stopped step keeps its output).
    let commit: string | null = null;
    if (step.commit && result.outcome !== 'cancelled') {
      const tree = await stageAll(ws);
      if (tree) commit = await commitTree(ws, tree, { author: step.author, message: step.message });
    }
    return { result, commit, readBack, durationMs: performance.now() - started };
  } catch (error) {
    const result: RunnerResult = { outcome: signal.aborted ? 'cancelled' : 'failed', usage: emptyUsage(), transcript: '', error: error instanceof Error ? error.message : String(error) };
    return { result, commit: null, readBack: null, durationMs: performance.now() - started };
  } finally {
    await ws?.remove().catch(() => undefined);
    await rm(home, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Cap of a file read back from a step's worktree. */
const READ_BACK_CAP = 64 * 1024;

/**
 * A file the agent wrote, read only when it is a regular file inside the worktree: a symlink
 * to the bot's config or store would otherwise carry their text into a merge request.
 */
async function readInside(root: string, file: string): Promise<string | null> {
  try {
    const [real, base] = await Promise.all([realpath(join(root, file)), realpath(root)]);
    if (!real.startsWith(base + sep)) return null;
    const st = await lstat(real);
    if (!st.isFile()) return null;
    return (await readFile(real, 'utf8')).slice(0, READ_BACK_CAP);
  } catch {
    return null;
  }
}

/** Runs `work` in a fresh checkout of `sha` (a worktree the agent never saw), then removes it. */
export async function inCheckout<T>(bench: Bench, sha: string, work: (dir: string, ws: Workspace) => Promise<T>): Promise<T> {
  const ws = await createWorkspace({ mirror: bench.mirror, lock: bench.lock, root: bench.root, branch: `doom-check/${unique()}`, base: sha });
  try {
    return await work(ws.path, ws);
  } finally {
    await ws.remove().catch(() => undefined);
  }
}

/** Puts `files` back as they are in `sha` (the oracle, whatever a candidate did to it). */
export async function restoreFiles(ws: Workspace, sha: string, files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  // Literal pathspecs: the names are the agent's, and `:(glob)…` must not mean more files.
  await git(['checkout', sha, '--', ...files], { cwd: ws.path, env: { GIT_DIR: ws.gitDir, GIT_WORK_TREE: ws.path, GIT_LITERAL_PATHSPECS: '1' } });
}

/** Keeps `sha` reachable in the mirror (a gc must not take a losing candidate's commit). */
export async function keepRef(bench: Bench, ref: string, sha: string): Promise<void> {
  await git(['--git-dir', bench.mirror, 'update-ref', ref, sha]);
}

/** The patch from `from` to `to` and the files it touches, as text (`-a`: nothing hides as binary). */
export async function patchOf(bench: Bench, from: string, to: string): Promise<{ patch: string; files: string[] }> {
  const common = ['--git-dir', bench.mirror, '-c', 'core.quotePath=false', 'diff', '--no-color', '--no-ext-diff', '--no-textconv'];
  const [patch, names] = await Promise.all([git([...common, '-a', from, to]), git([...common, '--name-only', from, to])]);
  return { patch, files: names.split('\n').filter(Boolean) };
}

/** How the bench's checks are confined: the sandbox, with the mirror and the bot's places masked. */
export const confinementOf = (bench: Bench): Confinement => ({
  sandbox: bench.checksSandbox ?? 'bwrap',
  hidden: [bench.mirror, ...(bench.sandbox?.hidden ?? [])],
  ...(bench.sandbox?.binaries ? { binaries: bench.sandbox.binaries } : {}),
});
