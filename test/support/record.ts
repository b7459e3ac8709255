/**
 * Settled rewards already on an agent's record, as earlier tasks would have left them. Tiers
 * read confidence bounds over every outcome (src/tiers/rules.ts), so one reward moves a tier only
 * on top of a record: a test about the reward that moves it gives the agent one first.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.js';

export async function priorRewards(db: Kysely<Database>, agent: string, taskId: number, values: readonly number[]): Promise<void> {
  // A minute ago: settled before anything the test does next.
  const at = new Date(Date.now() - 60_000).toISOString();
  await db
    .insertInto('rewards')
    .values(
      values.map((reward) => ({
        task_id: taskId,
        assignment_id: null,
        agent_name: agent,
        reward,
        components: '{}',
        weights: '{}',
        evaluator_version: 'test',
        hook_duration_ms: 0,
        kind: 'manual' as const,
        degraded: 0,
        mr_number: null,
        mr_state: null,
        created_at: at,
        updated_at: at,
        settled_at: at,
      })),
    )
    .execute();
}

/**
 * For end-to-end tests about the loop (webhooks to a reward to a tier change) rather than the
 * rule: tiers read at confidence 0.5, as `doom demo` does, so one reward of about 2.85 moves a
 * junior to senior (the default, 1.645, wants about four). The rule itself is tested with the
 * defaults in test/tiers.
 */
export function oneRewardTiers(loaded: { config: { tiers: { confidence: number } } }): void {
  loaded.config.tiers.confidence = 0.5;
}
