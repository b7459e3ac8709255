/**
 * Where the pipeline plugs in: the executor a server or the CLI runs is the pipeline when
 * `[pipeline] enabled` is set, else the local executor as before (one agent run per attempt).
 *
 * ```ts
 * const executor = executorFor(config, { db, forges, log }, { mirrorDir, workspaceDir, mirrorDiskBudgetBytes, capacity });
 * ```
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Executor } from '../executor/contract.js';
import { LocalExecutor, type LocalExecutorOptions } from '../executor/local.js';
import type { ForgeDirectory } from '../forges/forge.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/schema.js';
import { PipelineExecutor } from './engine.js';

export function executorFor(
  config: Config,
  deps: { db: Kysely<Database>; forges: ForgeDirectory; log: Logger; syncIssue?: (taskId: number) => Promise<void> },
  options: LocalExecutorOptions,
): Executor {
  if (!config.pipeline.enabled) return new LocalExecutor(options);
  // A runner chosen per request (doom evaluate's) is the local executor's alone: the
  // pipeline's steps choose their runners themselves.
  const { runnerFor: _perRequest, ...shared } = options;
  return new PipelineExecutor({ ...shared, ...deps, config, log: deps.log.child({ name: 'pipeline' }) });
}

export { PipelineExecutor } from './engine.js';
