/** The CLI's local-mode commands: `doom assign --task <id> --type`, `doom review`. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { botPlaces } from '../app.js';
import type { TaskType } from '../config/schema.js';
import { executorFor } from '../pipeline/index.js';
import { withHookEvents } from '../executor/hooks.js';
import { LocalLoop, type LoopEvent, type ReviewAction } from '../forges/local/loop.js';
import type { Logger } from '../log.js';
import { localTasksByKey } from '../store/local.js';
import { getTask } from '../store/tasks.js';
import { CliError } from './commands.js';
import type { CliContext } from './context.js';
import { describeEvent } from './demo.js';

/** Pure: a `--task` value is a stored task's number or a local task's own id (`test-001`). */
export function parseTaskRef(value: string): { kind: 'number'; id: number } | { kind: 'key'; key: string } {
  if (/^\d+$/.test(value) && Number(value) >= 1) return { kind: 'number', id: Number(value) };
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) return { kind: 'key', key: value };
  throw new CliError(`--task ${JSON.stringify(value)} is invalid: expected a task number or an id of letters, digits, '.', '_' and '-' (e.g. test-001)`);
}

/** The stored task a `--task` value names (a local id names its newest task). */
export async function resolveTask(ctx: CliContext, value: string): Promise<number | null> {
  const ref = parseTaskRef(value);
  if (ref.kind === 'number') return (await getTask(ctx.store.db, ref.id)) ? ref.id : null;
  return (await localTasksByKey(ctx.store.db, ref.key))[0]?.id ?? null;
}

function loopOf(ctx: CliContext, log: Logger): LocalLoop {
  const { config } = ctx.loaded;
  const executor = withHookEvents(executorFor(config, { db: ctx.store.db, forges: ctx.forges, log, syncIssue: (id) => ctx.tasks.syncIssue({ id }) }, {
    mirrorDir: resolve(config.executor.mirror_dir),
    workspaceDir: resolve(config.executor.workspace_dir),
    mirrorDiskBudgetBytes: config.executor.mirror_disk_budget_mb * 1024 * 1024,
    capacity: 1,
    sandbox: { hidden: botPlaces(ctx.env.databaseUrl, ctx.loaded) },
  }), ctx.store.db, log);
  return new LocalLoop({ core: ctx, config, log, executor });
}

const dashboardOf = (ctx: CliContext) => `http://127.0.0.1:${ctx.env.port ?? ctx.loaded.config.coordinator.port}/`;

export interface LocalAssignOptions {
  task: string;
  type?: TaskType;
  description?: string;
  file?: string;
  repo: string;
  run: boolean;
}

/**
 * `doom assign --task <id> --type <type>`: creates the local task (once: the same id again
 * finds it), routes it, and unless `--no-run` runs it, its pipeline and its evaluation.
 */
export async function assignLocal(ctx: CliContext, log: Logger, opts: LocalAssignOptions, out: (text: string) => void): Promise<void> {
  const ref = parseTaskRef(opts.task);
  if (ref.kind === 'number') throw new CliError(`task ${ref.id} does not exist; a new local task needs an id that is not a number (e.g. test-001)`);
  const taskYaml = opts.file ? await readFile(opts.file, 'utf8').catch(() => {
    throw new CliError(`cannot read ${opts.file}`);
  }) : undefined;
  const loop = loopOf(ctx, log);
  const print = (e: LoopEvent) => describeEvent(e, dashboardOf(ctx)).forEach(out);
  const { task } = await loop.createTask({ repo: opts.repo, key: ref.key, type: opts.type, description: opts.description, taskYaml });
  print({ kind: 'task', task });
  if (task.status === 'failed') throw new CliError(`task ${task.id} was rejected: ${task.error_message ?? 'invalid'}`);
  if (task.status === 'pending') {
    out(`task ${task.id} stays pending: ${task.pending_reason ?? 'no agent can take it'}`);
    return;
  }
  if (task.status === 'assigned') print({ kind: 'assigned', task });
  if (!opts.run || task.status !== 'assigned') return;
  const done = await loop.run(task.id, print);
  if (done.status === 'completed') out(`review it: doom review approve|request-changes|merge|close ${ref.key}`);
}

/** `doom review <action> <task>`: the local forge's reviewer. */
export async function review(ctx: CliContext, log: Logger, action: ReviewAction, value: string, out: (text: string) => void): Promise<void> {
  const id = await resolveTask(ctx, value);
  if (id === null) throw new CliError(`task ${value} does not exist`);
  await loopOf(ctx, log).review(id, action, (e) => describeEvent(e, dashboardOf(ctx)).forEach(out));
}
