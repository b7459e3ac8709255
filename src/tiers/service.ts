/**
 * Applies tier decisions to the store: the agent row, tier history with its reason, and
 * the audit log. Manual promotion and suspension go through here too. One writer,
 * `writeTiers`, serves one agent (a reward, an operator) and ten thousand (the nightly
 * recompute in recompute.ts) alike; it writes a row only if it has not moved since it was read.
 */
import { sql, type Kysely } from 'kysely';
import type { Config, Tier } from '../config/schema.js';
import { getAgent } from '../store/agents.js';
import { audit } from '../store/audit.js';
import { agentEvidence } from '../store/outcomes.js';
import { settledRewards } from '../store/rewards.js';
import type { Totals } from '../routing/posterior.js';
import type { AgentRow, Database } from '../store/schema.js';
import { nowIso } from '../store/time.js';
import { decideTier, type Override, type TierDecision } from './rules.js';
import { ExpectedError } from '../errors.js';
import type { EventSink } from '../events.js';

export class TierError extends ExpectedError {}

const order: Tier[] = ['suspended', 'junior', 'senior', 'principal'];

export function parseOverride(agent: Pick<AgentRow, 'manual_override'>): Override {
  if (!agent.manual_override) return null;
  const [kind, since] = agent.manual_override.split('@');
  if ((kind === 'suspended' || kind === 'promoted') && since) return { kind, since };
  return null;
}

const formatOverride = (o: Override): string | null => (o ? `${o.kind}@${o.since}` : null);

/** Where a tier decision came from, as tier history records it. */
export type TierSource = 'rewards' | 'nightly' | 'manual' | 'manual-reward';

/** The part of an agent row a tier decision reads and writes. */
export type TierState = Pick<AgentRow, 'name' | 'tier' | 'rolling_avg' | 'manual_override'>;

/** One agent's new tier state, to be written if the row still holds `agent`'s state. */
export interface TierWrite {
  /** The row as it was read; the write only lands if the row still says this. */
  agent: TierState;
  next: { tier: Tier; rollingAvg: number; override: Override };
  reason: string;
}

/** Rows per multi-row statement: far below SQLite's and Postgres' bound-parameter limits. */
const BATCH = 500;

async function requireAgent(db: Kysely<Database>, name: string): Promise<AgentRow> {
  const agent = await getAgent(db, name);
  if (!agent) throw new TierError(`agent "${name}" does not exist`);
  return agent;
}

/** The pure decision for one agent, from its settled rewards in the order they settled (oldest first). */
export function decideAgentTier(
  agent: TierState,
  rewards: readonly { reward: number; settled_at: string }[],
  config: Pick<Config, 'tiers' | 'routing'>,
  /** Every settled outcome of the agent (rewards and failed runs); absent, the rewards above. */
  evidence?: { totals: Totals; lastAt: string | null },
): TierDecision {
  return decideTier({
    current: agent.tier as Tier,
    override: parseOverride(agent),
    rewards: rewards.map((r) => ({ value: r.reward, at: r.settled_at })),
    ...(evidence ? { evidence } : {}),
    thresholds: config.tiers,
    prior: { sd: config.routing.prior_sd, weight: config.routing.prior_weight },
  });
}

/** Whether a decision differs from the stored row in tier, rolling average or override. */
export function needsWrite(agent: TierState, next: TierWrite['next']): boolean {
  return next.tier !== agent.tier || next.rollingAvg !== agent.rolling_avg || formatOverride(next.override) !== agent.manual_override;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes tier decisions in one transaction, `BATCH` agents per statement: the agent rows,
 * then tier history and an `agent.tier_changed` audit entry for each agent whose tier moved.
 *
 * Each row is written only if it still holds the state the decision was made from (tier,
 * rolling average, override): the decisions are made from reads taken outside the
 * transaction, and an agent whose row moved meanwhile (a reward's own recompute, an
 * operator) is returned in `stale`, untouched, for the caller to decide again.
 */
export async function writeTiers(
  db: Kysely<Database>,
  writes: readonly TierWrite[],
  options: { source: TierSource; actor: string },
): Promise<{ written: TierWrite[]; stale: TierWrite[] }> {
  if (writes.length === 0) return { written: [], stale: [] };
  const now = nowIso();
  const landed = new Set<string>();
  await db.transaction().execute(async (trx) => {
    for (const batch of chunks(writes, BATCH)) {
      const rows = batch.map(
        (w) =>
          sql`(${w.agent.name}, ${w.next.tier}, cast(${w.next.rollingAvg} as double precision), cast(${formatOverride(w.next.override)} as text), ${w.agent.tier}, cast(${w.agent.rolling_avg} as double precision), cast(${w.agent.manual_override} as text))`,
      );
      // UPDATE … FROM a VALUES list: Postgres, and SQLite since 3.33 (better-sqlite3 bundles a newer
      // one). The compare-and-set terms are wrapped in coalesce so that only `name` looks like a
      // join key: given a bare `agents.rolling_avg = v.old_avg`, SQLite's planner scans agents
      // and builds an automatic index on v's old average, 100× slower than a primary-key lookup.
      const result = await sql<{ name: string }>`
        with v (v_name, v_tier, v_avg, v_override, old_tier, old_avg, old_override) as (values ${sql.join(rows)})
        update agents
        set tier = v.v_tier, rolling_avg = v.v_avg, manual_override = v.v_override, updated_at = ${now},
          tier_since = case when agents.tier = v.v_tier then agents.tier_since else ${now} end
        from v
        where agents.name = v.v_name
          and coalesce(agents.tier, '') = coalesce(v.old_tier, '')
          and coalesce(agents.rolling_avg, 0) = coalesce(v.old_avg, 0)
          and coalesce(agents.manual_override, '') = coalesce(v.old_override, '')
        returning name`.execute(trx);
      for (const row of result.rows) landed.add(row.name);

      const moved = batch.filter((w) => landed.has(w.agent.name) && w.next.tier !== w.agent.tier);
      if (moved.length === 0) continue;
      await trx
        .insertInto('tier_history')
        .values(
          moved.map((w) => ({
            agent_name: w.agent.name,
            from_tier: w.agent.tier,
            to_tier: w.next.tier,
            reason: w.reason,
            source: options.source,
            rolling_avg: w.next.rollingAvg,
            created_at: now,
          })),
        )
        .execute();
      await trx
        .insertInto('audit_log')
        .values(
          moved.map((w) => ({
            at: now,
            event: 'agent.tier_changed',
            actor: options.actor,
            task_id: null,
            agent_name: w.agent.name,
            data: JSON.stringify({ from: w.agent.tier, to: w.next.tier, reason: w.reason, source: options.source, rolling_avg: w.next.rollingAvg }),
          })),
        )
        .execute();
    }
  });
  return { written: writes.filter((w) => landed.has(w.agent.name)), stale: writes.filter((w) => !landed.has(w.agent.name)) };
}

/**
 * Says `tier.changed` for each agent whose tier moved, whatever moved it (a reward, a manual
 * reward, an operator, the nightly job): its consequences live in one place (app.ts).
 */
export async function announceTierChanges(
  events: EventSink,
  changes: readonly { name: string; from: string; to: string }[],
  options: { source: TierSource; actor: string },
): Promise<void> {
  for (const c of changes) {
    if (c.from === c.to) continue;
    await events.emit({ kind: 'tier.changed', agent: c.name, from: c.from as Tier, to: c.to as Tier, source: options.source, actor: options.actor });
  }
}

/** How often a read-decide-write is tried again when the row moved under it. */
const ATTEMPTS = 5;

/**
 * Reads an agent, lets `decide` say what to write (or nothing), and writes it if the row has
 * not moved since the read; otherwise reads again.
 */
async function settle<T>(
  db: Kysely<Database>,
  name: string,
  decide: (agent: AgentRow) => Promise<{ write: TierWrite | null; result: T }>,
  options: { source: TierSource; actor: string },
): Promise<{ before: AgentRow; result: T; written: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const before = await requireAgent(db, name);
    const { write, result } = await decide(before);
    if (!write) return { before, result, written: false };
    const { written } = await writeTiers(db, [write], options);
    if (written.length === 1) return { before, result, written: true };
    if (attempt >= ATTEMPTS) throw new TierError(`agent "${name}" kept changing while its tier was being written; try again`);
  }
}

/**
 * Recomputes one agent's rolling average and tier from its stored rewards; also returns the
 * tier it had before and whether the row was written (only when the tier, average or override
 * changes).
 */
export async function recomputeAgentTier(
  db: Kysely<Database>,
  config: Config,
  name: string,
  source: TierSource,
  actor: string,
): Promise<{ from: Tier; agent: AgentRow; decision: TierDecision; changed: boolean; written: boolean }> {
  const { before, result: decision, written } = await settle(
    db,
    name,
    async (agent) => {
      const [rewards, evidence] = await Promise.all([
        settledRewards(db, name, config.tiers.evaluation_window),
        agentEvidence(db, name, config.routing.failed_run_reward),
      ]);
      const decision = decideAgentTier(agent, rewards, config, evidence);
      return { write: needsWrite(agent, decision) ? { agent, next: decision, reason: decision.reason } : null, result: decision };
    },
    { source, actor },
  );
  return { from: before.tier as Tier, agent: (await getAgent(db, name))!, decision, changed: decision.tier !== before.tier, written };
}

/** Recomputes one agent's rolling average and tier from its stored rewards. */
export async function recomputeAgent(
  db: Kysely<Database>,
  config: Config,
  name: string,
  source: 'rewards' | 'nightly' | 'manual-reward',
  actor = 'evaluator',
): Promise<{ agent: AgentRow; decision: TierDecision; changed: boolean; from: Tier }> {
  const { agent, decision, changed, from } = await recomputeAgentTier(db, config, name, source, actor);
  return { agent, decision, changed, from };
}

/**
 * Moves an agent up: to `to`, or one tier up (a suspended agent to junior). Lifts a manual
 * suspension. The promotion holds until the agent's next final reward decides again.
 */
export async function promoteAgent(
  db: Kysely<Database>,
  name: string,
  options: { to?: Tier; reason?: string; actor: string },
): Promise<AgentRow> {
  const reason = options.reason ?? `promoted by ${options.actor}`;
  const { result: target } = await settle(
    db,
    name,
    async (agent) => {
      const current = order.indexOf(agent.tier as Tier);
      const target = options.to ?? order[current + 1];
      if (!target) throw new TierError(`agent "${name}" is already ${agent.tier}; there is no tier above`);
      if (target === 'suspended') throw new TierError('use "doom agents suspend" to suspend an agent');
      if (order.indexOf(target) <= current && agent.tier !== 'suspended') {
        throw new TierError(`agent "${name}" is ${agent.tier}; promoting to ${target} would not move it up`);
      }
      const next = { tier: target, rollingAvg: agent.rolling_avg, override: { kind: 'promoted', since: nowIso() } as const };
      return { write: { agent, next, reason }, result: target };
    },
    { source: 'manual', actor: options.actor },
  );
  await audit(db, { event: 'agent.promoted', actor: options.actor, agentName: name, data: { to: target, reason } });
  return (await getAgent(db, name))!;
}

/** Suspends an agent until an operator promotes it again, whatever its rewards say. */
export async function suspendAgent(
  db: Kysely<Database>,
  name: string,
  options: { reason?: string; actor: string },
): Promise<AgentRow> {
  const reason = options.reason ?? `suspended by ${options.actor}`;
  await settle(
    db,
    name,
    async (agent) => {
      const next = { tier: 'suspended', rollingAvg: agent.rolling_avg, override: { kind: 'suspended', since: nowIso() } } as const;
      return { write: { agent, next, reason }, result: undefined };
    },
    { source: 'manual', actor: options.actor },
  );
  await audit(db, { event: 'agent.suspended', actor: options.actor, agentName: name, data: { reason } });
  return (await getAgent(db, name))!;
}
