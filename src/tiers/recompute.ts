/**
 * The Tier Update Service of the seed: recomputes every agent's rolling average and tier from
 * the stored settled rewards and repairs drift (a lost write, a crash between a reward and its
 * recompute, a changed `evaluation_window` or threshold, a hand edit of the table).
 *
 * Set-based: one query reads the last `evaluation_window` settled rewards of every agent (see
 * `lastSettledRewards`, for the rolling average), two aggregates read every agent's settled
 * outcomes (store/outcomes.ts, for the tier's bounds), the pure rules decide in memory, and only the agents whose tier,
 * rolling average or override changed are written, in one transaction, in batches.
 */
import { sql, type Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import { emptyTotals } from '../routing/posterior.js';
import { foldEvidence, outcomeTotals } from '../store/outcomes.js';
import { settledKinds } from '../store/rewards.js';
import type { Database } from '../store/schema.js';
import { decideAgentTier, needsWrite, recomputeAgentTier, writeTiers, type TierWrite } from './service.js';

export interface TierChange {
  name: string;
  from: string;
  to: string;
  reason: string;
}

export interface RecomputeResult {
  /** Agents looked at: every agent in the store, active or not. */
  agents: number;
  /** Agents whose tier moved, by name. */
  changed: TierChange[];
  /** Agent rows rewritten: tier changes plus corrected rolling averages and consumed promotions. */
  updated: number;
  durationMs: number;
}

export interface RecentReward {
  reward: number;
  settled_at: string;
}

/**
 * The newest `window` settled rewards of every agent, oldest first, in one query that runs on
 * SQLite and Postgres alike: ordered by `settled_at` (stamped once, when the reward settled),
 * ties broken by id, as `settledRewards` does.
 *
 * A `row_number()` window over all settled rewards would read an agent's whole history every
 * night (a second over a million rewards on SQLite). So each agent's cutoff, the `settled_at`
 * of its window-th newest settled reward, is found first with one index seek per agent; the
 * window function then ranks only the rows at or after the cutoff (a tie at the cutoff can let
 * a few more through; `rn` drops them). The work grows with agents × window, not with history.
 * `cross join … where` keeps SQLite's planner walking agents first (Postgres plans it freely);
 * the index `rewards_agent_settled` (migration 0003) serves both the seek and the range.
 */
export async function lastSettledRewards(db: Kysely<Database>, window: number): Promise<Map<string, RecentReward[]>> {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`evaluation window must be a positive integer, got ${window}`);
  const kinds = sql.join(settledKinds.map((k) => sql.lit(k)));
  const { rows } = await sql<{ agent_name: string; reward: number; settled_at: string; rn: number }>`
    with cutoff as materialized (
      select a.name as agent_name,
        (select x.settled_at from rewards x
          where x.agent_name = a.name and x.settled_at is not null and x.kind in (${kinds})
          order by x.settled_at desc, x.id desc
          limit 1 offset ${sql.lit(window - 1)}) as since
      from agents a
    ),
    ranked as (
      select r.agent_name, r.reward, r.settled_at,
        row_number() over (partition by r.agent_name order by r.settled_at desc, r.id desc) as rn
      from cutoff cross join rewards r
      where r.agent_name = cutoff.agent_name
        and r.settled_at is not null
        and r.kind in (${kinds})
        and r.settled_at >= coalesce(cutoff.since, '')
    )
    select agent_name, reward, settled_at, rn from ranked where rn <= ${sql.lit(window)}`.execute(db);

  // Placed by rank (1 = newest), so the rows may come in any order.
  const byAgent = new Map<string, RecentReward[]>();
  for (const row of rows) {
    let list = byAgent.get(row.agent_name);
    if (!list) byAgent.set(row.agent_name, (list = []));
    list[Number(row.rn) - 1] = { reward: row.reward, settled_at: row.settled_at };
  }
  for (const list of byAgent.values()) list.reverse();
  return byAgent;
}

/**
 * Recomputes every agent's rolling average and tier. Tier changes go to tier history (with
 * `source` and the rule's reason) and the audit log (`agent.tier_changed`); a corrected
 * average alone is written without either. Overrides hold as in `decideTier`: a manual
 * suspension stays, a promotion stays until a newer settled reward.
 *
 * Reads happen outside the write transaction; an agent whose row moved between the read and
 * the write (a reward was recomputed meanwhile) is recomputed again on its own.
 */
export async function recomputeAllTiers(
  db: Kysely<Database>,
  config: Config,
  options: { source: 'nightly' | 'manual'; actor: string },
): Promise<RecomputeResult> {
  const started = performance.now();
  const agents = await db.selectFrom('agents').select(['name', 'tier', 'rolling_avg', 'manual_override']).orderBy('name').execute();
  const recent = await lastSettledRewards(db, config.tiers.evaluation_window);
  const evidence = foldEvidence(await outcomeTotals(db, { perType: false }), config.routing.failed_run_reward);
  const none = { totals: emptyTotals(), lastAt: null };

  const writes: TierWrite[] = [];
  for (const agent of agents) {
    const decision = decideAgentTier(agent, recent.get(agent.name) ?? [], config, evidence.get(agent.name) ?? none);
    if (needsWrite(agent, decision)) writes.push({ agent, next: decision, reason: decision.reason });
  }

  const { written, stale } = await writeTiers(db, writes, options);
  const changed: TierChange[] = written
    .filter((w) => w.next.tier !== w.agent.tier)
    .map((w) => ({ name: w.agent.name, from: w.agent.tier, to: w.next.tier, reason: w.reason }));
  let updated = written.length;

  for (const w of stale) {
    const again = await recomputeAgentTier(db, config, w.agent.name, options.source, options.actor);
    if (again.written) updated++;
    if (again.changed) changed.push({ name: w.agent.name, from: again.from, to: again.decision.tier, reason: again.decision.reason });
  }
  changed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return { agents: agents.length, changed, updated, durationMs: performance.now() - started };
}
