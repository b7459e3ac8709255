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
import { commitAll, commitMessage, keptWorkMessage, push } from '../workspace/publish.js';
import { createWorkspace, type Workspace } from '../workspace/worktree.js';
import type { Executor, RunRequest, RunResult } from './contract.js';

export interface LocalExecutorOptions {
  mirrorDir: string;
  workspaceDir: string;
  mirrorDiskBudgetBytes: number;
  capacity: number;
  /** The environment the agent's is built from (allow-listed: no bot secrets pass). */
  baseEnv?: NodeJS.ProcessEnv;
  /** The bot's own places (store directory, mirrors, config) and sandbox binaries, for every run's sandbox. */
  sandbox?: SandboxContext;
  /** Tests swap the runner factory; production builds one from the agent file. */
  runnerFor?: (config: RunnerConfig, permissions: PermissionsConfig, sandbox: SandboxContext) => Runner;
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
    const failed = (error: unknown): RunResult => ({
      outcome: signal.aborted ? outcomeOf(signal) : 'failed',
      usage: emptyUsage(),
      transcript: '',
      error: error instanceof Error ? error.message : String(error),
      commitSha: null,
      changedFiles: [],
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
      workspace = await createWorkspace({
        mirror,
        lock: this.mirrors.lockFor(key),
        root: this.options.workspaceDir,
        branch: request.branch,
        // Kept work: the branch's tip as just fetched (a commit a person added on top included).
        base: resumed ? request.branch : request.repository.defaultBranch,
        signal,
      });

      const runner = (this.options.runnerFor ?? createRunner)(request.agent.runner, request.agent.permissions, {
        ...this.options.sandbox,
        // The mirror cache is the bot's, even where the caller did not list it.
        hidden: [this.options.mirrorDir, ...(this.options.sandbox?.hidden ?? [])],
      });
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
      });
      const result = await runner.run({
        workdir: workspace.path,
        prompt,
        systemPrompt: request.agent.systemPrompt,
        toolsAllowed: request.agent.toolsAllowed,
        maxTurns: request.agent.runner.kind === 'claude-code' ? request.agent.runner.max_turns : 0,
        maxTokens: request.task.maxTokens,
        // A HOME of its own: the bot's (~/.config, ~/.ssh, ~/.gitconfig) is none of the agent's business.
        env: agentEnv(this.options.baseEnv ?? process.env, { HOME: home }),
        signal,
      });
      const base = { usage: result.usage, transcript: result.transcript, error: result.error, summary: result.summary };
      const ended = (outcome: RunResult['outcome'], commitSha: string | null, changedFiles: string[] = [], error = base.error): RunResult => ({
        ...base,
        error,
        outcome,
        commitSha,
        changedFiles,
        durationMs: performance.now() - started,
      });
      if (isBudgetStop(result.outcome)) {
        // The run's own signal has fired on a timeout: keeping the work gets a deadline of its own.
        const kept = await keepWork(workspace, request, result.outcome, resumed !== null, AbortSignal.any([cancel, AbortSignal.timeout(KEEP_TIMEOUT_MS)]));
        return 'error' in kept
          ? ended(result.outcome, null, [], `${base.error ?? result.outcome}; its work could not be kept: ${kept.error}`)
          : ended(result.outcome, kept.sha);
      }
      if (result.outcome !== 'success') return ended(result.outcome, null);

      const made = await commitAll(workspace, {
        author: request.author,
        message: commitMessage({
          taskId: request.task.id,
          title: request.task.title,
          agent: request.agent.name,
          issueUrl: request.task.issueUrl,
        }),
      });
      // A resumed agent that only confirmed the kept work publishes it as it stands.
      const sha = made ?? (resumed ? workspace.baseSha : null);
      let changedFiles: string[] = [];
      if (sha) {
        const from = resumed ? await forkPoint(workspace, request.repository.defaultBranch) : workspace.baseSha;
        changedFiles = (await git(['--git-dir', workspace.mirror, 'diff', '--name-only', from, sha])).split('\n').filter(Boolean);
        // A fresh credential: the run may have outlived the first one's lifetime.
        if (made) await push(workspace, { remoteUrl: request.repository.cloneUrl, credential: await request.credential(), signal });
      }
      return ended('success', sha, changedFiles);
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
 * that had itself resumed keeps the work it started from.
 */
async function keepWork(
  workspace: Workspace,
  request: RunRequest,
  stop: BudgetStop,
  resumed: boolean,
  signal: AbortSignal,
): Promise<{ sha: string | null } | { error: string }> {
  try {
    const message = keptWorkMessage({ taskId: request.task.id, title: request.task.title, agent: request.agent.name, stop });
    const sha = await commitAll(workspace, { author: request.author, message });
    if (!sha) return { sha: resumed ? workspace.baseSha : null };
    await push(workspace, { remoteUrl: request.repository.cloneUrl, credential: await request.credential(), signal });
    return { sha };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
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
