/**
 * The local executor: a run is a git worktree from the repository's cached mirror, the
 * agent as a child process inside it, then the bot's commit and push. The agent never sees
 * the credential; the bot uses it for fetch and push only, after the agent has exited.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPrompt, readGuidance } from '../pipeline/prompt.js';
import { agentEnv } from '../runners/env.js';
import { createRunner } from '../runners/index.js';
import { abortReasons } from '../runners/process.js';
import { emptyUsage, isBudgetStop, type BudgetStop, type Runner } from '../runners/runner.js';
import type { RunnerConfig, PermissionsConfig } from '../runners/config.js';
import type { SandboxContext } from '../runners/sandbox.js';
import { git } from '../workspace/git.js';
import { MirrorCache, mirrorKey } from '../workspace/mirror.js';
import { decideGuards, inspectChange, type GuardDecision, type GuardFinding } from '../policy/guards.js';
import { readChangeSet } from '../workspace/changes.js';
import { commitMessage, commitTree, keptWorkMessage, push, stageAll } from '../workspace/publish.js';
import { createWorkspace, type Workspace } from '../workspace/worktree.js';
import type { Executor, RunFailure, RunRequest, RunResult } from './contract.js';

export interface LocalExecutorOptions {
  mirrorDir: string;
  workspaceDir: string;
  mirrorDiskBudgetBytes: number;
  capacity: number;
  /** The environment the agent's is built from (allow-listed: no bot secrets pass). */
  baseEnv?: NodeJS.ProcessEnv;
  /** The bot's own places (store directory, mirrors, config) and sandbox binaries, for every run's sandbox. */
  sandbox?: SandboxContext;
  /** Tests (and `doom evaluate`, for its one run) swap the runner factory; production builds one from the agent file. */
  runnerFor?: (config: RunnerConfig, permissions: PermissionsConfig, sandbox: SandboxContext, request: RunRequest) => Runner;
}

export class LocalExecutor implements Executor {
  readonly capacity: number;
  private readonly mirrors: MirrorCache;

  constructor(private readonly options: LocalExecutorOptions) {
    this.capacity = options.capacity;
    this.mirrors = new MirrorCache({ root: options.mirrorDir, diskBudgetBytes: options.mirrorDiskBudgetBytes });
  }

  async run(request: RunRequest, cancel: AbortSignal): Promise<RunResult> {
    const started = performance.now();
    const signal = AbortSignal.any([cancel, timeoutSignal(request.task.timeoutMs)]);
    let stage: 'workspace' | 'agent' | 'publish' = 'workspace';
    const failed = (error: unknown): RunResult => ({
      outcome: signal.aborted ? outcomeOf(signal) : 'failed',
      usage: emptyUsage(),
      transcript: '',
      error: error instanceof Error ? error.message : String(error),
      commitSha: null,
      changedFiles: [],
      guards: [],
      failure: { stage },
      durationMs: performance.now() - started,
    });

    let workspace: Workspace | undefined;
    const home = join(this.options.workspaceDir, `.home-${request.runId}-${process.pid}`);
    try {
      await mkdir(home, { recursive: true });
      const credential = await request.credential();
      const key = mirrorKey(request.repository.forge, request.repository.fullName);
      const mirror = await this.mirrors.ensure(key, request.repository.cloneUrl, credential, signal);
      const resumed = await resumable(mirror, request);
      if (request.round) await assertBranchOnRemote(mirror, request.branch);
      workspace = await createWorkspace({
        mirror,
        lock: this.mirrors.lockFor(key),
        root: this.options.workspaceDir,
        branch: request.branch,
        // Kept work and rounds: the branch's tip as just fetched (a commit a person added on top included).
        base: resumed || request.round ? request.branch : request.repository.defaultBranch,
        signal,
      });

      stage = 'agent';
      const runner = (this.options.runnerFor ?? createRunner)(request.agent.runner, request.agent.permissions, {
        ...this.options.sandbox,
        // The mirror cache is the bot's, even where the caller did not list it.
        hidden: [this.options.mirrorDir, ...(this.options.sandbox?.hidden ?? [])],
      }, request);
      const prompt = buildPrompt({
        task: {
          id: request.task.id,
          type: request.task.type,
          priority: request.task.priority,
          title: request.task.title,
          description: request.task.description,
          tags: request.task.tags,
          constraints: { max_tokens: request.task.maxTokens, timeout_ms: request.task.timeoutMs },
        },
        guidance: await readGuidance(workspace.path),
        repo: request.repository.fullName,
        resumed: resumed ? { stop: resumed } : undefined,
        round: request.round,
      });
      const result = await runner.run({
        workdir: workspace.path,
        prompt,
        systemPrompt: request.agent.systemPrompt,
        toolsAllowed: request.agent.toolsAllowed,
        maxTurns: request.agent.runner.kind === 'claude-code' ? request.agent.runner.max_turns : 0,
        maxTokens: request.task.maxTokens,
        ...(request.task.maxUsd != null ? { maxBudgetUsd: request.task.maxUsd } : {}),
        // A HOME of its own: the bot's (~/.config, ~/.ssh, ~/.gitconfig) is none of the agent's business.
        env: agentEnv(this.options.baseEnv ?? process.env, { HOME: home }),
        signal,
      });
      const base = { usage: result.usage, transcript: result.transcript, error: result.error, summary: result.summary };
      const end = (
        rest: Pick<RunResult, 'outcome' | 'commitSha' | 'changedFiles'> & { guards?: GuardFinding[]; failure?: RunFailure; error?: string; round?: RunResult['round'] },
      ): RunResult => ({
        ...base,
        guards: [],
        ...rest,
        durationMs: performance.now() - started,
      });
      stage = 'publish';
      // Kept work is measured from where the task's branch left the default branch, so the
      // guards see what earlier, budget-stopped agents committed too.
      const from = resumed || request.round ? await forkPoint(workspace, request.repository.defaultBranch) : workspace.baseSha;
      // A round's unfinished work is not kept: its branch is an open merge request people review.
      if (isBudgetStop(result.outcome) && !request.round) {
        // The run's own signal has fired on a timeout: keeping the work gets a deadline of its own.
        const keepSignal = AbortSignal.any([cancel, AbortSignal.timeout(KEEP_TIMEOUT_MS)]);
        const kept = await keepWork(workspace, request, result.outcome, { resumed: resumed !== null, from }, keepSignal);
        return 'error' in kept
          ? end({ outcome: result.outcome, commitSha: null, changedFiles: [], failure: { stage: 'agent' }, error: `${base.error ?? result.outcome}; its work could not be kept: ${kept.error}` })
          : end({ outcome: result.outcome, commitSha: kept.sha, changedFiles: [], failure: { stage: 'agent' } });
      }
      if (result.outcome !== 'success') return end({ outcome: result.outcome, commitSha: null, changedFiles: [], failure: { stage: 'agent' } });

      const tree = await stageAll(workspace);
      // A resumed agent that only confirmed the kept work publishes it as it stands.
      if (!tree && (!resumed || request.round)) return end({ outcome: 'success', commitSha: null, changedFiles: [] });
      // The guards look at the change before it is committed: a refused change is never pushed.
      const decision = await guardChange(workspace, request, from, tree ?? workspace.baseSha);
      if (decision.kind === 'refuse') return end(refused(decision.files));
      const message = commitMessage({ taskId: request.task.id, title: request.task.title, agent: request.agent.name, issueUrl: request.task.issueUrl });
      const sha = tree ? await commitTree(workspace, tree, { author: request.author, message }) : workspace.baseSha;
      const changedFiles = (await git(['--git-dir', workspace.mirror, 'diff', '--name-only', from, sha])).split('\n').filter(Boolean);
      // A fresh credential: the run may have outlived the first one's lifetime.
      // The lease is the head just fetched, the commit's parent: a fast-forward, refused if someone pushed since.
      if (tree) await push(workspace, { remoteUrl: request.repository.cloneUrl, credential: await request.credential(), signal });
      const round = request.round ? { baseSha: workspace.baseSha, files: await filesBetween(workspace, workspace.baseSha, sha) } : undefined;
      return end({ outcome: 'success', commitSha: sha, changedFiles, guards: decision.kind === 'flag' ? decision.findings : [], ...(round ? { round } : {}) });
    } catch (error) {
      return failed(error);
    } finally {
      await workspace?.remove().catch(() => undefined);
      await rm(home, { recursive: true, force: true }).catch(() => undefined);
      await this.mirrors.evict().catch(() => undefined);
    }
  }
}

/** How long committing and pushing a budget-stopped run's work may take. */
const KEEP_TIMEOUT_MS = 120_000;

/**
 * The stop of the earlier run whose work this one continues, or null to start from the default
 * branch: only while the task's branch on the remote (as just fetched) still holds the kept
 * commit. A branch someone deleted or rewrote since is not resumed.
 */
async function resumable(mirror: string, request: RunRequest): Promise<BudgetStop | null> {
  if (!request.resume) return null;
  const tip = `refs/remotes/origin/${request.branch}`;
  try {
    await git(['--git-dir', mirror, 'merge-base', '--is-ancestor', request.resume.sha, tip]);
    return request.resume.stop;
  } catch {
    return null;
  }
}

/**
 * Commits what a budget-stopped agent left in the worktree to the task's branch and pushes it
 * (no merge request): the escalated run starts from there. With nothing new to commit, a run
 * that had itself resumed keeps the work it started from. The guards apply as to a published
 * change: a branch push can run CI, so protected paths a refusing policy forbids are not kept.
 */
async function keepWork(
  workspace: Workspace,
  request: RunRequest,
  stop: BudgetStop,
  at: { resumed: boolean; from: string },
  signal: AbortSignal,
): Promise<{ sha: string | null } | { error: string }> {
  try {
    const tree = await stageAll(workspace);
    if (!tree) return { sha: at.resumed ? workspace.baseSha : null };
    const decision = await guardChange(workspace, request, at.from, tree);
    if (decision.kind === 'refuse') return { error: refused(decision.files).error };
    const message = keptWorkMessage({ taskId: request.task.id, title: request.task.title, agent: request.agent.name, stop });
    await commitTree(workspace, tree, { author: request.author, message });
    await push(workspace, { remoteUrl: request.repository.cloneUrl, credential: await request.credential(), signal });
    return { sha: await git(['--git-dir', workspace.mirror, 'rev-parse', `refs/heads/${workspace.branch}`]) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The guards' verdict on the change from `from` (the default branch's fork point) to `head`. */
async function guardChange(workspace: Workspace, request: RunRequest, from: string, head: string): Promise<GuardDecision> {
  const change = await readChangeSet({ kind: 'commits', gitDir: workspace.mirror, base: from, head });
  return decideGuards(inspectChange(change, request.policy.protectedPaths), request.policy.onProtectedChange);
}

/** A run whose change touches protected paths under `on_protected_change = refuse`. */
function refused(files: string[]): Pick<RunResult, 'outcome' | 'commitSha' | 'changedFiles'> & { failure: RunFailure; error: string } {
  return {
    outcome: 'failed',
    commitSha: null,
    changedFiles: [],
    failure: { stage: 'guard', files },
    error: `the agent changed protected paths (${files.join(', ')}); on_protected_change is refuse, nothing was pushed`,
  };
}

/** A round continues the merge request: its branch must still be on the remote. */
async function assertBranchOnRemote(mirror: string, branch: string): Promise<void> {
  try {
    await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}^{commit}`]);
  } catch {
    throw new Error(`the merge request's branch ${branch} is no longer on the remote`);
  }
}

async function filesBetween(workspace: Workspace, from: string, to: string): Promise<string[]> {
  return (await git(['--git-dir', workspace.mirror, 'diff', '--name-only', from, to])).split('\n').filter(Boolean);
}

/** Where the task's work leaves the default branch: the changed files of its MR start here. */
async function forkPoint(workspace: Workspace, defaultBranch: string): Promise<string> {
  return git(['--git-dir', workspace.mirror, 'merge-base', `refs/remotes/origin/${defaultBranch}`, workspace.baseSha]);
}

function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(abortReasons.timeout()), ms);
  timer.unref();
  return controller.signal;
}

function outcomeOf(signal: AbortSignal): 'timeout' | 'cancelled' {
  const reason: unknown = signal.reason;
  return typeof reason === 'object' && reason !== null && (reason as { name?: string }).name === 'TimeoutError'
    ? 'timeout'
    : 'cancelled';
}
