/**
 * Which agents make the K candidates: the assigned agent first, then the router's next best
 * for the task, different agents while the pool has them, the same ones again (another
 * variant of the prompt) after that. Agents whose breaker is open sit it out. The router's
 * ranking (which reads the head-to-head pairs too, see README *Routing*) enters as `ranked`.
 *
 * ```ts
 * pickCandidates('agent-a', ['agent-b', 'agent-c'], 3, new Set(['agent-c']));
 * // [{ agent: 'agent-a', variant: 0 }, { agent: 'agent-b', variant: 0 }, { agent: 'agent-a', variant: 1 }]
 * ```
 */
import type { Kysely } from 'kysely';
import type { AgentFile } from '../agents/schema.js';
import type { Config, Priority, TaskType } from '../config/schema.js';
import { RoutingBook } from '../routing/book.js';
import { policyFrom, route } from '../routing/router.js';
import { getAgent } from '../store/agents.js';
import { recentRuns } from '../store/pipeline.js';
import type { Database } from '../store/schema.js';
import { agentBreaker, type BreakerRules } from './breakers.js';
import { renderSystemPrompt } from './prompt.js';
import type { StepAgent } from './workbench.js';

export interface CandidateSlot {
  agent: string;
  /** 0 for an agent's first candidate of the task, 1 for its second … */
  variant: number;
}

/** Pure: K slots from the assigned agent and the others in the router's order, skipping open breakers. */
export function pickCandidates(primary: string, ranked: readonly string[], k: number, open: ReadonlySet<string>): CandidateSlot[] {
  const pool = [primary, ...ranked.filter((a) => a !== primary)].filter((a) => !open.has(a));
  if (pool.length === 0) return [];
  const seen = new Map<string, number>();
  return Array.from({ length: k }, (_, i) => {
    const agent = pool[i % pool.length]!;
    const variant = seen.get(agent) ?? 0;
    seen.set(agent, variant + 1);
    return { agent, variant };
  });
}

/** The router's ranking of the other agents eligible for the task, best first (the assigned one left out). */
export async function rankedAgents(db: Kysely<Database>, config: Config, task: { type: TaskType; priority: Priority }, primary: string): Promise<string[]> {
  const book = await RoutingBook.load(db, config);
  // A ranking, not a draw: Thompson sampling's random source is held at its median.
  const policy = policyFrom(config, { now: Date.now(), rng: () => 0.5, fleetMean: book.fleetMean() });
  const d = route({ ...task, excludeAgents: [primary] }, book.candidates(task.type), policy);
  return d.kind === 'assigned' ? d.candidates.map((c) => c.name) : [];
}

/** The agents among `names` whose breaker is open now, with why and until when. */
export async function openBreakers(db: Kysely<Database>, rules: BreakerRules, names: readonly string[], now: number): Promise<{ agent: string; reason: string; open_until: string }[]> {
  const open: { agent: string; reason: string; open_until: string }[] = [];
  for (const agent of names) {
    const b = agentBreaker(await recentRuns(db, rules.failures_in_a_row, agent), rules, now);
    if (b.open) open.push({ agent, reason: b.reason, open_until: b.until });
  }
  return open;
}

/** A pool agent as a step runs it: its file's runner, permissions and rendered system prompt. */
export async function stepAgentOf(db: Kysely<Database>, name: string, type: string): Promise<StepAgent> {
  const row = await getAgent(db, name);
  if (!row) throw new Error(`agent ${name} is gone from the pool`);
  const file = JSON.parse(row.config) as AgentFile;
  return {
    name,
    tier: row.tier,
    systemPrompt: renderSystemPrompt(file.context.system_prompt, { tier: row.tier, type, custom_instructions: file.context.custom_instructions }),
    toolsAllowed: file.context.tools_allowed,
    runner: file.runner,
    permissions: file.permissions,
  };
}
