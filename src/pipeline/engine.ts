/**
 * The Valhalla pipeline as an Executor: the coordinator hands it one run request, as it hands
 * the local executor one, and gets one result back — the winner's commit pushed to the task's
 * branch, its changed files and a summary carrying the pipeline's docs — so the merge request
 * is opened by the same publish path as before. In between, the phases of the priority's
 * policy run as the DAG orders them (dag.ts), each within its budget, and every step is
 * written to the store: the ExecutionState, each candidate, the head-to-head outcomes.
 *
 * ```ts
 * const executor = new PipelineExecutor({ db, config, forges, log, mirrorDir, workspaceDir, mirrorDiskBudgetBytes, capacity: 4 });
 * const runs = new RunCoordinator({ ..., executor });
 * ```
 */
import type { Kysely } from 'kysely';
import type { Config, Priority } from '../config/schema.js';
import type { Executor, RunRequest, RunResult } from '../executor/contract.js';
import type { ForgeDirectory } from '../forges/forge.js';
import type { Logger } from '../log.js';
import type { PermissionsConfig, RunnerConfig } from '../runners/config.js';
import type { Runner } from '../runners/runner.js';
import type { SandboxContext } from '../runners/sandbox.js';
import type { Database } from '../store/schema.js';
import { MirrorCache, mirrorKey } from '../workspace/mirror.js';
import { Execution } from './execution.js';

export interface PipelineExecutorOptions {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  log: Logger;
  /** Brings the issue's sticky comment up to date (the acceptance criteria, once the spec phase has them). */
  syncIssue?: (taskId: number) => Promise<void>;
  mirrorDir: string;
  workspaceDir: string;
  mirrorDiskBudgetBytes: number;
  capacity: number;
  baseEnv?: NodeJS.ProcessEnv;
  sandbox?: SandboxContext;
  /** Tests swap the runner factory; production builds one from the agent file. */
  runnerFor?: (config: RunnerConfig, permissions: PermissionsConfig, sandbox: SandboxContext) => Runner;
}

export class PipelineExecutor implements Executor {
  readonly capacity: number;
  private readonly mirrors: MirrorCache;

  constructor(private readonly options: PipelineExecutorOptions) {
    this.capacity = options.capacity;
    this.mirrors = new MirrorCache({ root: options.mirrorDir, diskBudgetBytes: options.mirrorDiskBudgetBytes });
  }

  async run(request: RunRequest, cancel: AbortSignal): Promise<RunResult> {
    const { config } = this.options;
    const policy = config.pipeline.policies[request.task.priority as Priority] ?? config.pipeline.policies.P2;
    const key = mirrorKey(request.repository.forge, request.repository.fullName);
    const execution = new Execution({ ...this.options, mirrors: this.mirrors, mirrorKey: key }, request, policy, cancel);
    try {
      return await execution.run();
    } finally {
      await this.mirrors.evict().catch(() => undefined);
    }
  }
}
