/**
 * Settled outcomes: what routing and tiers learn from. An outcome is a settled reward (final
 * or manual, stamped `settled_at`) or a run that failed or ended empty against its agent
 * (`assignments.counts_against`, stamped `finished_at`), which counts as a reward of
 * `[routing] failed_run_reward`. A provisional reward is pending: not an outcome yet.
 * Outcomes are per (agent, task type), the type being the task's.
 *
 * Two reads: the totals (count, sum, sum of squares) per agent and type, in two aggregate
 * queries; and the outcomes settled since a stamp, in settle order, for the routing book to
 * keep up without reading history again.
 */
import type { Kysely } from 'kysely';
import type { TaskType } from '../config/schema.js';
import { addOutcome, emptyTotals, type Totals } from '../routing/posterior.js';
import { settledKinds } from './rewards.js';
import type { AgentRow, Database } from './schema.js';

export interface OutcomeTotals {
  agent: string;
  /** Null when the totals are per agent (`perType: false`). */
  type: TaskType | null;
  /** Settled rewards. */
  rewards: Totals;
  /** Failed or empty runs. */
  failures: number;
  /** The newest settle stamp among them. */
  lastAt: string | null;
}

export interface SettledOutcome {
  /** `r<id>` for a reward, `f<id>` for a failed run: unique across both. */
  key: string;
  agent: string;
  type: TaskType;
  /** The reward, or null for a failed run (its value is the configured failed-run reward). */
  reward: number | null;
  at: string;
}

/**
 * Totals per (agent, type), of one agent when given; settled before `before` when given. With
 * `perType: false` the totals are per agent (type `null`), read from the rewards' own index
 * without the join to tasks: what tiers need, at a fraction of the cost.
 */
export async function outcomeTotals(
  db: Kysely<Database>,
  options: { agent?: string; before?: string; perType?: boolean } = {},
): Promise<OutcomeTotals[]> {
  const perType = options.perType ?? true;
  let rewards = db
    .selectFrom('rewards as r')
    .select((eb) => [
      'r.agent_name as agent',
      eb.fn.countAll<number>().as('n'),
      eb.fn.sum<number>('r.reward').as('sum'),
      eb.fn.sum<number>(eb('r.reward', '*', eb.ref('r.reward'))).as('sum_sq'),
      eb.fn.max('r.settled_at').as('last_at'),
    ])
    .where('r.settled_at', 'is not', null)
    .where('r.kind', 'in', settledKinds)
    .groupBy('r.agent_name');
  let failures = db
    .selectFrom('assignments as a')
    .select((eb) => ['a.agent_name as agent', eb.fn.countAll<number>().as('n'), eb.fn.max('a.finished_at').as('last_at')])
    .where('a.counts_against', '=', 1)
    .groupBy('a.agent_name');
  if (options.agent !== undefined) {
    rewards = rewards.where('r.agent_name', '=', options.agent);
    failures = failures.where('a.agent_name', '=', options.agent);
  }
  if (options.before !== undefined) {
    rewards = rewards.where('r.settled_at', '<', options.before);
    failures = failures.where('a.finished_at', '<', options.before);
  }
  const [rs, fs] = perType
    ? await Promise.all([
        rewards.innerJoin('tasks as t', 't.id', 'r.task_id').select('t.type as type').groupBy('t.type').execute(),
        failures.innerJoin('tasks as t', 't.id', 'a.task_id').select('t.type as type').groupBy('t.type').execute(),
      ])
    : await Promise.all([rewards.execute(), failures.execute()]);
  const byKey = new Map<string, OutcomeTotals>();
  const entry = (agent: string, type: string | undefined): OutcomeTotals => {
    const key = `${agent}\u0000${type ?? ''}`;
    let e = byKey.get(key);
    if (!e) byKey.set(key, (e = { agent, type: (type ?? null) as TaskType | null, rewards: emptyTotals(), failures: 0, lastAt: null }));
    return e;
  };
  const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);
  for (const r of rs as { agent: string; type?: string; n: number; sum: number | null; sum_sq: number | null; last_at: unknown }[]) {
    const e = entry(r.agent, r.type);
    e.rewards = { n: Number(r.n), sum: Number(r.sum ?? 0), sumSq: Number(r.sum_sq ?? 0) };
    e.lastAt = later(e.lastAt, (r.last_at as string | null) ?? null);
  }
  for (const f of fs as { agent: string; type?: string; n: number; last_at: unknown }[]) {
    const e = entry(f.agent, f.type);
    e.failures = Number(f.n);
    e.lastAt = later(e.lastAt, (f.last_at as string | null) ?? null);
  }
  return [...byKey.values()];
}

/** Rewards and failures as one set of totals, each failure at `failedRunReward`. */
export function totalsOf(row: Pick<OutcomeTotals, 'rewards' | 'failures'>, failedRunReward: number): Totals {
  return addOutcome({ ...row.rewards }, failedRunReward, row.failures);
}

/** One agent's totals over every type, and its newest settle stamp. */
export async function agentEvidence(
  db: Kysely<Database>,
  agent: string,
  failedRunReward: number,
): Promise<{ totals: Totals; lastAt: string | null }> {
  return foldEvidence(await outcomeTotals(db, { agent, perType: false }), failedRunReward).get(agent) ?? { totals: emptyTotals(), lastAt: null };
}

/** Every agent's totals over every type, by agent. */
export function foldEvidence(rows: readonly OutcomeTotals[], failedRunReward: number): Map<string, { totals: Totals; lastAt: string | null }> {
  const out = new Map<string, { totals: Totals; lastAt: string | null }>();
  for (const row of rows) {
    let e = out.get(row.agent);
    if (!e) out.set(row.agent, (e = { totals: emptyTotals(), lastAt: null }));
    const t = totalsOf(row, failedRunReward);
    e.totals = { n: e.totals.n + t.n, sum: e.totals.sum + t.sum, sumSq: e.totals.sumSq + t.sumSq };
    if (row.lastAt !== null && (e.lastAt === null || row.lastAt > e.lastAt)) e.lastAt = row.lastAt;
  }
  return out;
}

/** Where a tail read starts: after a stamp (`>`), or at one (`>=`). */
export interface TailStart {
  op: '>' | '>=';
  at: string;
}

/** Outcomes settled after `since`, in settle order (ties by key). */
export async function outcomesSince(db: Kysely<Database>, since: TailStart): Promise<SettledOutcome[]> {
  const [rs, fs] = await Promise.all([
    db
      .selectFrom('rewards as r')
      .innerJoin('tasks as t', 't.id', 'r.task_id')
      .select(['r.id', 'r.agent_name', 't.type', 'r.reward', 'r.settled_at'])
      .where('r.settled_at', since.op, since.at)
      .where('r.kind', 'in', settledKinds)
      .execute(),
    db
      .selectFrom('assignments as a')
      .innerJoin('tasks as t', 't.id', 'a.task_id')
      .select(['a.id', 'a.agent_name', 't.type', 'a.finished_at'])
      .where('a.counts_against', '=', 1)
      .where('a.finished_at', since.op, since.at)
      .execute(),
  ]);
  const out: SettledOutcome[] = [
    ...rs.map((r) => ({ key: `r${r.id}`, agent: r.agent_name, type: r.type as TaskType, reward: r.reward, at: r.settled_at! })),
    ...fs.map((f) => ({ key: `f${f.id}`, agent: f.agent_name, type: f.type as TaskType, reward: null, at: f.finished_at! })),
  ];
  return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Which agent rows were written after `since` (a tier, a counter, a sync), by name and stamp. */
export async function agentsChangedSince(db: Kysely<Database>, since: TailStart): Promise<{ name: string; updated_at: string }[]> {
  return db.selectFrom('agents').select(['name', 'updated_at']).where('updated_at', since.op, since.at).execute();
}

/** Agent rows by name, in batches well under the bound-parameter limits. */
export async function agentRows(db: Kysely<Database>, names: readonly string[]): Promise<AgentRow[]> {
  const out: AgentRow[] = [];
  for (let i = 0; i < names.length; i += 500) {
    out.push(...(await db.selectFrom('agents').selectAll().where('name', 'in', names.slice(i, i + 500)).execute()));
  }
  return out;
}

/** How many attempts of each agent wait for their reward to settle (an open merge request). */
export async function pendingRewards(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('rewards')
    .select(['agent_name', (eb) => eb.fn.countAll<number>().as('n')])
    .where('settled_at', 'is', null)
    .groupBy('agent_name')
    .execute();
  return new Map(rows.map((r) => [r.agent_name, Number(r.n)]));
}
