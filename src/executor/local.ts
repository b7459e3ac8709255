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
import { emptyUsage, type Runner } from '../runners/runner.js';
import type { RunnerConfig, PermissionsConfig } from '../runners/config.js';
import { git } from '../workspace/git.js';
import { MirrorCache, mirrorKey } from '../workspace/mirror.js';
import { decideGuards, inspectChange, type GuardFinding } from '../policy/guards.js';
import { readChangeSet } from '../workspace/changes.js';
import { commitMessage, commitTree, push, stageAll } from '../workspace/publish.js';
import { createWorkspace, type Workspace } from '../workspace/worktree.js';
import type { Executor, RunFailure, RunRequest, RunResult } from './contract.js';

export interface LocalExecutorOptions {
  mirrorDir: string;
  workspaceDir: string;
  mirrorDiskBudgetBytes: number;
  capacity: number;
  /** The environment the agent's is built from (allow-listed: no bot secrets pass). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Tests swap the runner factory; production builds one from the agent file. */
  runnerFor?: (config: RunnerConfig, permissions: PermissionsConfig) => Runner;
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
      workspace = await createWorkspace({
        mirror,
        root: this.options.workspaceDir,
        branch: request.branch,
        base: request.repository.defaultBranch,
        signal,
      });

      stage = 'agent';
      const runner = (this.options.runnerFor ?? createRunner)(request.agent.runner, request.agent.permissions);
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
      const end = (rest: Pick<RunResult, 'outcome' | 'commitSha' | 'changedFiles'> & { guards?: GuardFinding[]; failure?: RunFailure; error?: string }): RunResult => ({
        ...base,
        guards: [],
        ...rest,
        durationMs: performance.now() - started,
      });
      if (result.outcome !== 'success') return end({ outcome: result.outcome, commitSha: null, changedFiles: [], failure: { stage: 'agent' } });

      stage = 'publish';
      const tree = await stageAll(workspace);
      if (!tree) return end({ outcome: 'success', commitSha: null, changedFiles: [] });
      // The guards look at the change before it is committed: a refused change is never pushed.
      const change = await readChangeSet({ kind: 'commits', gitDir: workspace.mirror, base: workspace.baseSha, head: tree });
      const decision = decideGuards(inspectChange(change, request.policy.protectedPaths), request.policy.onProtectedChange);
      if (decision.kind === 'refuse') {
        return end({
          outcome: 'failed',
          commitSha: null,
          changedFiles: [],
          failure: { stage: 'guard', files: decision.files },
          error: `the agent changed protected paths (${decision.files.join(', ')}); on_protected_change is refuse, nothing was pushed`,
        });
      }
      const sha = await commitTree(workspace, tree, {
        author: request.author,
        message: commitMessage({
          taskId: request.task.id,
          title: request.task.title,
          agent: request.agent.name,
          issueUrl: request.task.issueUrl,
        }),
      });
      const changedFiles = (await git(['--git-dir', workspace.mirror, 'diff', '--name-only', workspace.baseSha, sha])).split('\n').filter(Boolean);
      // A fresh credential: the run may have outlived the first one's lifetime.
      await push(workspace, { remoteUrl: request.repository.cloneUrl, credential: await request.credential(), signal });
      return end({ outcome: 'success', commitSha: sha, changedFiles, guards: decision.kind === 'flag' ? decision.findings : [] });
    } catch (error) {
      return failed(error);
    } finally {
      await workspace?.remove().catch(() => undefined);
      await rm(home, { recursive: true, force: true }).catch(() => undefined);
      await this.mirrors.evict().catch(() => undefined);
    }
  }
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
