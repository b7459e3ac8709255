/**
 * A person's tier change, wherever it is asked for: the CLI (`doom agents promote|suspend`),
 * the REST API and `/doom promote|suspend|reinstate`. One path, so every one of them has
 * every consequence: the change is written (tier history, audit) and `tier.changed` is said,
 * whose handlers (app.ts) give a suspended agent's unstarted tasks back and route what waits.
 *
 * ```ts
 * const { agent, released } = await changeTier({ db, events }, { kind: 'suspend', agent: 'a', reason: 'pushed a secret', actor: 'cli' });
 * ```
 */
import type { Kysely } from 'kysely';
import type { Tier } from '../config/schema.js';
import type { EventSink } from '../events.js';
import { getAgent } from '../store/agents.js';
import type { AgentRow, Database } from '../store/schema.js';
import { pendingTasks } from '../store/tasks.js';
import { unstartedTasksOf } from '../store/transitions.js';
import { announceTierChanges, promoteAgent, suspendAgent, TierError } from './service.js';

export type TierChange =
  /** Up one tier, or to `to`; lifts a manual suspension. */
  | { kind: 'promote'; agent: string; to?: Tier; reason?: string; actor: string }
  | { kind: 'suspend'; agent: string; reason?: string; actor: string }
  /** A suspended agent back at junior; refused for one that is not suspended. */
  | { kind: 'reinstate'; agent: string; reason?: string; actor: string };

export interface TierChangeResult {
  agent: AgentRow;
  from: Tier;
  /** Tasks the agent had not started that went back to the router (a suspension). */
  released: number;
  /** Waiting tasks that found an agent after the change. */
  assigned: number;
}

export async function changeTier(deps: { db: Kysely<Database>; events: EventSink }, change: TierChange): Promise<TierChangeResult> {
  const { db, events } = deps;
  const before = await getAgent(db, change.agent);
  if (!before) throw new TierError(`agent "${change.agent}" does not exist`);
  if (change.kind === 'reinstate' && before.tier !== 'suspended') {
    throw new TierError(`agent "${change.agent}" is ${before.tier}, not suspended`);
  }
  const from = before.tier as Tier;
  const agent = await write(db, change);
  const released = agent.tier === 'suspended' && from !== 'suspended' ? (await unstartedTasksOf(db, agent.name)).length : 0;
  const waiting = (await pendingTasks(db)).length;
  await announceTierChanges(events, [{ name: agent.name, from, to: agent.tier }], { source: 'manual', actor: change.actor });
  const assigned = Math.max(0, waiting - (await pendingTasks(db)).length);
  return { agent: (await getAgent(db, agent.name)) ?? agent, from, released, assigned };
}

function write(db: Kysely<Database>, change: TierChange): Promise<AgentRow> {
  const reason = change.reason ? { reason: change.reason } : {};
  switch (change.kind) {
    case 'promote':
      return promoteAgent(db, change.agent, { actor: change.actor, ...reason, ...(change.to ? { to: change.to } : {}) });
    case 'suspend':
      return suspendAgent(db, change.agent, { actor: change.actor, ...reason });
    case 'reinstate':
      return promoteAgent(db, change.agent, { to: 'junior', actor: change.actor, reason: change.reason ?? `reinstated by ${change.actor}` });
  }
}
