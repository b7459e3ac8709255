/**
 * Read-only queries behind the REST API, the dashboard and `/metrics`: what they show of
 * tasks, runs, rewards and tier changes, with the SQL kept here. Nothing in this file writes.
 */
import type { Kysely } from 'kysely';
import { settledKinds } from './rewards.js';
import type { Database, RewardRow, TaskRow, TaskStatus, TierHistoryRow } from './schema.js';

export interface TaskFilter {
  status?: TaskStatus;
  agent?: string;
  type?: string;
}

/** One page of tasks, newest first, and how many match in all. */
export async function taskPage(
  db: Kysely<Database>,
  filter: TaskFilter,
  page: { limit: number; offset: number },
): Promise<{ tasks: TaskRow[]; total: number }> {
  let q = db.selectFrom('tasks');
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.agent) q = q.where('assigned_agent', '=', filter.agent);
  if (filter.type) q = q.where('type', '=', filter.type);
  const [tasks, count] = await Promise.all([
    q.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
  ]);
  return { tasks, total: Number(count?.n ?? 0) };
}

/** A repository the bot has seen an issue from, as its newest task there records it. */
export type KnownRepository = Pick<
  TaskRow,
  'forge' | 'installation_id' | 'repo_id' | 'repo' | 'repo_url' | 'clone_url' | 'default_branch'
>;

export async function knownRepository(db: Kysely<Database>, forge: string, fullName: string): Promise<KnownRepository | undefined> {
  return db
    .selectFrom('tasks')
    .select(['forge', 'installation_id', 'repo_id', 'repo', 'repo_url', 'clone_url', 'default_branch'])
    .where('forge', '=', forge)
    .where('repo', '=', fullName)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** A settled reward with the type of its task, for statistics per task type. */
export type TypedReward = Pick<RewardRow, 'agent_name' | 'reward' | 'components' | 'updated_at' | 'task_id'> & { task_type: string };

/** Every settled reward (final or manual), oldest first, with its task's type. */
export async function settledRewardsWithType(db: Kysely<Database>, agent?: string): Promise<TypedReward[]> {
  let q = db
    .selectFrom('rewards')
    .innerJoin('tasks', 'tasks.id', 'rewards.task_id')
    .select(['rewards.agent_name', 'rewards.reward', 'rewards.components', 'rewards.updated_at', 'rewards.task_id', 'tasks.type as task_type'])
    .where('rewards.kind', 'in', settledKinds);
  if (agent) q = q.where('rewards.agent_name', '=', agent);
  return q.orderBy('rewards.updated_at').orderBy('rewards.id').execute();
}

/** Tier changes, oldest first: one agent's, or everyone's. */
export async function tierHistory(db: Kysely<Database>, agent?: string): Promise<TierHistoryRow[]> {
  let q = db.selectFrom('tier_history').selectAll();
  if (agent) q = q.where('agent_name', '=', agent);
  return q.orderBy('created_at').orderBy('id').execute();
}

export interface UsageRow {
  key: string;
  tokens: number;
  cost_usd: number;
  runs: number;
}

/** Tokens (input, output and cache) and cost of every run, summed by agent or by task type. */
export async function usageBy(db: Kysely<Database>, by: 'agent' | 'type'): Promise<UsageRow[]> {
  const column = by === 'agent' ? 'assignments.agent_name' : 'tasks.type';
  const rows = await db
    .selectFrom('assignments')
    .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
    .select((eb) => [
      eb.ref(column).as('key'),
      eb.fn
        .sum<number>(eb('assignments.input_tokens', '+', eb('assignments.output_tokens', '+', eb.ref('assignments.cache_tokens'))))
        .as('tokens'),
      eb.fn.sum<number>('assignments.cost_usd').as('cost_usd'),
      eb.fn.countAll<number>().as('runs'),
    ])
    .groupBy(column)
    .orderBy(column)
    .execute();
  return rows.map((r) => ({ key: String(r.key), tokens: Number(r.tokens ?? 0), cost_usd: Number(r.cost_usd ?? 0), runs: Number(r.runs) }));
}

/** Runs that ended, by outcome (`success`, `failed`, `timeout`, `token_limit`, `cancelled`, `interrupted`). */
export async function runOutcomes(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('assignments')
    .select(['outcome', (eb) => eb.fn.countAll<number>().as('n')])
    .where('outcome', 'is not', null)
    .groupBy('outcome')
    .execute();
  return Object.fromEntries(rows.map((r) => [String(r.outcome), Number(r.n)]));
}

/**
 * Runs that ended, each with its outcome and the tier its agent held when it started (the
 * run's `TaskStart` hook event says), else the agent's tier now (runs from before hook events).
 */
export async function endedRunsWithTier(db: Kysely<Database>): Promise<{ outcome: string; tier: string }[]> {
  const rows = await db
    .selectFrom('assignments')
    .innerJoin('agents', 'agents.name', 'assignments.agent_name')
    .leftJoin('hook_events', (j) => j.onRef('hook_events.run_id', '=', 'assignments.id').on('hook_events.type', '=', 'TaskStart'))
    .select(['assignments.id', 'assignments.outcome', 'agents.tier', 'hook_events.payload'])
    .where('assignments.outcome', 'is not', null)
    .orderBy('assignments.id')
    .orderBy('hook_events.id')
    .execute();
  const byRun = new Map<number, { outcome: string; tier: string }>();
  for (const r of rows) {
    if (byRun.has(r.id)) continue; // a re-run after an interruption starts again: its first start counts
    const started = r.payload === null ? undefined : (JSON.parse(r.payload) as { tier?: unknown }).tier;
    byRun.set(r.id, { outcome: String(r.outcome), tier: typeof started === 'string' ? started : r.tier });
  }
  return [...byRun.values()];
}

/** Runs that started and ended: who ran them and when. */
export async function finishedRuns(db: Kysely<Database>): Promise<{ agent_name: string; started_at: string; finished_at: string }[]> {
  const rows = await db
    .selectFrom('assignments')
    .select(['agent_name', 'started_at', 'finished_at'])
    .where('started_at', 'is not', null)
    .where('finished_at', 'is not', null)
    .execute();
  return rows.map((r) => ({ agent_name: r.agent_name, started_at: r.started_at!, finished_at: r.finished_at! }));
}

/** How long each stored reward's evaluation took. */
export async function evaluationDurations(db: Kysely<Database>): Promise<number[]> {
  const rows = await db.selectFrom('rewards').select('hook_duration_ms').execute();
  return rows.map((r) => r.hook_duration_ms);
}

/** Evaluations that failed (the previous reward stood), summed over all tasks. */
export async function evaluationErrors(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('evaluations').select((eb) => eb.fn.sum<number>('errors').as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function countByStatus(db: Kysely<Database>, table: 'tasks' | 'webhook_deliveries'): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom(table)
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** The oldest delivery that is due and waiting: when it became due, and its id. */
export async function oldestDueDelivery(db: Kysely<Database>, now: string): Promise<{ id: number; due_at: string } | undefined> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select(['id', 'next_attempt_at'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row ? { id: row.id, due_at: row.next_attempt_at } : undefined;
}
