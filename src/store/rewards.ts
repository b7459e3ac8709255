/** Rewards: one row per (task, agent), updated in place as the evaluation firms up. */
import type { Kysely } from 'kysely';
import type { Database, RewardKind, RewardRow } from './schema.js';
import { nowIso } from './time.js';

/** Kinds that count toward an agent's rolling average. */
export const settledKinds: RewardKind[] = ['final', 'manual'];

export interface RewardInput {
  taskId: number;
  agentName: string;
  reward: number;
  components: Record<string, number>;
  weights: Record<string, number>;
  evaluatorVersion: string;
  hookDurationMs: number;
  kind: RewardKind;
  degraded: boolean;
  /** A guard flagged the change (policy/guards.ts); absent: no. */
  guarded?: boolean;
}

export async function upsertReward(db: Kysely<Database>, r: RewardInput): Promise<RewardRow> {
  const now = nowIso();
  const values = {
    reward: r.reward,
    components: JSON.stringify(r.components),
    weights: JSON.stringify(r.weights),
    evaluator_version: r.evaluatorVersion,
    hook_duration_ms: Math.round(r.hookDurationMs),
    kind: r.kind,
    degraded: r.degraded ? 1 : 0,
    guarded: r.guarded ? 1 : 0,
    updated_at: now,
  };
  return db
    .insertInto('rewards')
    .values({ task_id: r.taskId, agent_name: r.agentName, ...values, created_at: now })
    .onConflict((oc) => oc.columns(['task_id', 'agent_name']).doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The agent's settled rewards, oldest first; the newest `last` when given. */
export async function settledRewards(db: Kysely<Database>, agent: string, last?: number): Promise<RewardRow[]> {
  let q = db
    .selectFrom('rewards')
    .selectAll()
    .where('agent_name', '=', agent)
    .where('kind', 'in', settledKinds)
    .orderBy('updated_at', 'desc')
    .orderBy('id', 'desc');
  if (last !== undefined) q = q.limit(last);
  return (await q.execute()).reverse();
}

export async function rewardsOf(db: Kysely<Database>, agent: string, last: number): Promise<RewardRow[]> {
  const rows = await db
    .selectFrom('rewards')
    .selectAll()
    .where('agent_name', '=', agent)
    .orderBy('updated_at', 'desc')
    .orderBy('id', 'desc')
    .limit(last)
    .execute();
  return rows.reverse();
}
