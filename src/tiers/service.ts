/**
 * Applies tier decisions to the store: the agent row, tier history with its reason, and
 * the audit log. Manual promotion and suspension go through here too.
 */
import type { Kysely } from 'kysely';
import type { Config, Tier } from '../config/schema.js';
import { getAgent } from '../store/agents.js';
import { audit } from '../store/audit.js';
import { settledRewards } from '../store/rewards.js';
import type { AgentRow, Database } from '../store/schema.js';
import { nowIso } from '../store/time.js';
import { decideTier, type Override, type TierDecision } from './rules.js';

export class TierError extends Error {
  override name = 'TierError';
}

const order: Tier[] = ['suspended', 'junior', 'senior', 'principal'];

export function parseOverride(agent: Pick<AgentRow, 'manual_override'>): Override {
  if (!agent.manual_override) return null;
  const [kind, since] = agent.manual_override.split('@');
  if ((kind === 'suspended' || kind === 'promoted') && since) return { kind, since };
  return null;
}

const formatOverride = (o: Override): string | null => (o ? `${o.kind}@${o.since}` : null);

async function requireAgent(db: Kysely<Database>, name: string): Promise<AgentRow> {
  const agent = await getAgent(db, name);
  if (!agent) throw new TierError(`agent "${name}" does not exist`);
  return agent;
}

async function writeTier(
  db: Kysely<Database>,
  agent: AgentRow,
  next: { tier: Tier; rollingAvg: number; override: Override },
  reason: string,
  source: string,
  actor: string,
): Promise<boolean> {
  const now = nowIso();
  const changed = next.tier !== agent.tier;
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('agents')
      .set({ tier: next.tier, rolling_avg: next.rollingAvg, manual_override: formatOverride(next.override), updated_at: now })
      .where('name', '=', agent.name)
      .execute();
    if (changed) {
      await trx
        .insertInto('tier_history')
        .values({
          agent_name: agent.name,
          from_tier: agent.tier,
          to_tier: next.tier,
          reason,
          source,
          rolling_avg: next.rollingAvg,
          created_at: now,
        })
        .execute();
    }
  });
  if (changed) {
    await audit(db, {
      event: 'agent.tier_changed',
      actor,
      agentName: agent.name,
      data: { from: agent.tier, to: next.tier, reason, source, rolling_avg: next.rollingAvg },
    });
  }
  return changed;
}

/** Recomputes one agent's rolling average and tier from its stored rewards. */
export async function recomputeAgent(
  db: Kysely<Database>,
  config: Config,
  name: string,
  source: 'rewards' | 'nightly' | 'manual-reward',
  actor = 'evaluator',
): Promise<{ agent: AgentRow; decision: TierDecision; changed: boolean }> {
  const agent = await requireAgent(db, name);
  const rewards = await settledRewards(db, name, config.tiers.evaluation_window);
  const decision = decideTier({
    current: agent.tier as Tier,
    override: parseOverride(agent),
    rewards: rewards.map((r) => ({ value: r.reward, at: r.updated_at })),
    thresholds: config.tiers,
  });
  const changed = await writeTier(db, agent, decision, decision.reason, source, actor);
  return { agent: (await getAgent(db, name))!, decision, changed };
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
  const agent = await requireAgent(db, name);
  const current = order.indexOf(agent.tier as Tier);
  const target = options.to ?? order[current + 1];
  if (!target) throw new TierError(`agent "${name}" is already ${agent.tier}; there is no tier above`);
  if (target === 'suspended') throw new TierError('use "doom agents suspend" to suspend an agent');
  if (order.indexOf(target) <= current && agent.tier !== 'suspended') {
    throw new TierError(`agent "${name}" is ${agent.tier}; promoting to ${target} would not move it up`);
  }
  const reason = options.reason ?? `promoted by ${options.actor}`;
  await writeTier(
    db,
    agent,
    { tier: target, rollingAvg: agent.rolling_avg, override: { kind: 'promoted', since: nowIso() } },
    reason,
    'manual',
    options.actor,
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
  const agent = await requireAgent(db, name);
  const reason = options.reason ?? `suspended by ${options.actor}`;
  await writeTier(
    db,
    agent,
    { tier: 'suspended', rollingAvg: agent.rolling_avg, override: { kind: 'suspended', since: nowIso() } },
    reason,
    'manual',
    options.actor,
  );
  await audit(db, { event: 'agent.suspended', actor: options.actor, agentName: name, data: { reason } });
  return (await getAgent(db, name))!;
}
