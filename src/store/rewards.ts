/**
 * Rewards: one row per attempt (an assignment), written while its merge request is open and
 * never again once it settles. The rolling window reads settled rewards by (`settled_at`, `id`):
 * a stamp written once, so re-evaluating a reward cannot move it in the window.
 */
import { sql, type Kysely } from 'kysely';
import { decideRewardWrite, type RewardValues, type RewardWrite } from '../rewards/settle.js';
import type { Database, RewardKind, RewardRow } from './schema.js';
import { nowIso } from './time.js';

/** Kinds that count toward an agent's rolling average. */
export const settledKinds: RewardKind[] = ['final', 'manual'];

export interface RewardInput extends RewardValues {
  hookDurationMs: number;
}

/** The attempt a reward scores; `assignmentId` null only for a manual reward with no attempt. */
export interface AttemptRef {
  taskId: number;
  assignmentId: number | null;
  agentName: string;
}

export interface SavedReward {
  decision: RewardWrite;
  /** The row before this evaluation, if there was one. */
  previous: RewardRow | undefined;
  /** The row as it stands after it (undefined only if nothing was stored or written). */
  row: RewardRow | undefined;
}

async function attemptReward(db: Kysely<Database>, attempt: AttemptRef): Promise<RewardRow | undefined> {
  let q = db.selectFrom('rewards').selectAll();
  q =
    attempt.assignmentId === null
      ? q.where('task_id', '=', attempt.taskId).where('agent_name', '=', attempt.agentName).where('assignment_id', 'is', null)
      : q.where('assignment_id', '=', attempt.assignmentId);
  return q.executeTakeFirst();
}

/** The attempt's reward row, if it has one. */
export const rewardOfAttempt = (db: Kysely<Database>, attempt: AttemptRef): Promise<RewardRow | undefined> => attemptReward(db, attempt);

/**
 * Records an evaluation of an attempt, in one transaction: reads the attempt's reward, lets
 * `decideRewardWrite` say whether to write, and writes at most once. A settled row is never
 * touched (the update is also guarded on `settled_at is null`); an unchanged one neither.
 */
export async function saveAttemptReward(db: Kysely<Database>, attempt: AttemptRef, next: RewardInput): Promise<SavedReward> {
  return db.transaction().execute(async (trx) => {
    const previous = await attemptReward(trx, attempt);
    const decision = decideRewardWrite(previous, next);
    if (decision.kind === 'unchanged' || decision.kind === 'settled') return { decision, previous, row: previous };
    const now = nowIso();
    const values = {
      reward: next.reward,
      components: JSON.stringify(next.components),
      weights: JSON.stringify(next.weights),
      evaluator_version: next.evaluatorVersion,
      hook_duration_ms: Math.round(next.hookDurationMs),
      kind: next.kind,
      degraded: next.degraded ? 1 : 0,
      guarded: next.guarded ? 1 : 0,
      mr_number: next.mrNumber,
      mr_state: next.mrState,
      updated_at: now,
      settled_at: decision.settles ? now : null,
    };
    const row =
      decision.kind === 'insert'
        ? await trx
            .insertInto('rewards')
            .values({ task_id: attempt.taskId, assignment_id: attempt.assignmentId, agent_name: attempt.agentName, ...values, created_at: now })
            .returningAll()
            .executeTakeFirstOrThrow()
        : await trx
            .updateTable('rewards')
            .set(values)
            .where('id', '=', previous!.id)
            .where('settled_at', 'is', null)
            .returningAll()
            .executeTakeFirstOrThrow();
    return { decision, previous, row };
  });
}

/** The agent's settled rewards in the order they settled, oldest first; the newest `last` when given. */
export async function settledRewards(db: Kysely<Database>, agent: string, last?: number): Promise<(RewardRow & { settled_at: string })[]> {
  let q = db
    .selectFrom('rewards')
    .selectAll()
    .where('agent_name', '=', agent)
    .where('kind', 'in', settledKinds)
    .where('settled_at', 'is not', null)
    .orderBy('settled_at', 'desc')
    .orderBy('id', 'desc');
  if (last !== undefined) q = q.limit(last);
  return (await q.execute()).reverse() as (RewardRow & { settled_at: string })[];
}

/**
 * The agent's newest `last` rewards of every kind, oldest first: settled ones by when they
 * settled, others by when they were created (both stamped once, so re-evaluation keeps the order).
 */
export async function rewardsOf(db: Kysely<Database>, agent: string, last: number): Promise<RewardRow[]> {
  const at = sql<string>`coalesce(settled_at, created_at)`;
  const rows = await db
    .selectFrom('rewards')
    .selectAll()
    .where('agent_name', '=', agent)
    .orderBy(at, 'desc')
    .orderBy('id', 'desc')
    .limit(last)
    .execute();
  return rows.reverse();
}

export interface SuccessRate {
  /** Attempts whose merge request was merged, with a final reward. */
  merged: number;
  /** Attempts with a final reward (their merge request merged or closed). */
  settled: number;
  /** merged / settled; null before the first final reward. */
  rate: number | null;
}

/** Each agent's success rate over its final rewards (see README, Rewards). */
export async function successRates(db: Kysely<Database>): Promise<Map<string, SuccessRate>> {
  const rows = await db
    .selectFrom('rewards')
    .select((eb) => [
      'agent_name',
      eb.fn.countAll<number>().as('settled'),
      eb.fn.sum<number>(eb.case().when('mr_state', '=', 'merged').then(1).else(0).end()).as('merged'),
    ])
    .where('kind', '=', 'final')
    .where('settled_at', 'is not', null)
    .groupBy('agent_name')
    .execute();
  return new Map(
    rows.map((r) => {
      const settled = Number(r.settled);
      const merged = Number(r.merged ?? 0);
      return [r.agent_name, { merged, settled, rate: settled === 0 ? null : merged / settled }];
    }),
  );
}
