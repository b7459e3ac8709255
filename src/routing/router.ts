/**
 * The router: a pure choice of agent for a task. Eligible agents are active, not suspended,
 * specialize in the task's type, hold a tier the priority allows and have free capacity.
 * Among them the router ranks by an upper confidence bound (UCB1): an agent that never had
 * a task goes first (its average says nothing yet); after that, the agent's rolling average
 * plus a bonus that shrinks as it takes more tasks, so proven agents get most of the work
 * while agents with few tasks still get a fair share of it.
 */
import type { AssignableTier, Priority, TaskType, Tier } from '../config/schema.js';

export interface RoutableAgent {
  name: string;
  tier: Tier;
  specializations: readonly TaskType[];
  rollingAvg: number;
  totalTasks: number;
  /** Tasks the agent holds now (assigned or running). */
  load: number;
  capacity: number;
  active: boolean;
}

export interface RoutableTask {
  type: TaskType;
  priority: Priority;
  /** An `agent:<name>` label or `--force-agent`: skips specialization and tier checks. */
  forcedAgent?: string | null;
  /** Agents that already failed this task. */
  excludeAgents?: readonly string[];
  /** Escalations raise the floor: only agents of this tier or above. */
  minTier?: AssignableTier | null;
}

export interface RoutingPolicy {
  tiersByPriority: Record<Priority, readonly AssignableTier[]>;
  /** Weight of the exploration bonus, in reward points. 0 = always the best average. */
  exploration: number;
}

export interface Candidate {
  name: string;
  score: number;
  bonus: number;
}

export type RouteDecision =
  | { kind: 'assigned'; agent: string; reasons: string[]; candidates: Candidate[] }
  | { kind: 'pending'; reason: string; reasons: string[] };

const tierRank: Record<Tier, number> = { suspended: -1, junior: 0, senior: 1, principal: 2 };

export const tierAtLeast = (tier: Tier, floor: AssignableTier): boolean => tierRank[tier] >= tierRank[floor];

/** The next tier up, for escalation; principal has none. */
export function nextTierUp(tier: Tier): AssignableTier | null {
  if (tier === 'suspended' || tier === 'junior') return 'senior';
  if (tier === 'senior') return 'principal';
  return null;
}

const fmt = (n: number): string => n.toFixed(2);

function routeForced(task: RoutableTask, agents: readonly RoutableAgent[], name: string): RouteDecision {
  const agent = agents.find((a) => a.name === name);
  if (!agent || !agent.active) {
    return { kind: 'pending', reason: `forced agent "${name}" does not exist`, reasons: [] };
  }
  if (agent.tier === 'suspended') {
    return { kind: 'pending', reason: `forced agent "${name}" is suspended`, reasons: [] };
  }
  if (agent.load >= agent.capacity) {
    return { kind: 'pending', reason: `forced agent "${name}" is at capacity (${agent.load}/${agent.capacity})`, reasons: [] };
  }
  return {
    kind: 'assigned',
    agent: agent.name,
    reasons: [
      `forced by the operator (agent "${name}")`,
      `tier ${agent.tier}, rolling average ${fmt(agent.rollingAvg)} over ${agent.totalTasks} tasks`,
      ...(agent.specializations.includes(task.type) ? [] : [`note: not a ${task.type} specialist`]),
    ],
    candidates: [{ name: agent.name, score: agent.rollingAvg, bonus: 0 }],
  };
}

/** Picks an agent for `task`, or says why none can take it now. */
export function route(task: RoutableTask, agents: readonly RoutableAgent[], policy: RoutingPolicy): RouteDecision {
  if (task.forcedAgent) return routeForced(task, agents, task.forcedAgent);

  const allowed = policy.tiersByPriority[task.priority];
  const excluded = new Set(task.excludeAgents ?? []);
  const rejected = { specialization: 0, tier: 0, capacity: 0, suspended: 0, excluded: 0 };
  const eligible: RoutableAgent[] = [];
  for (const a of agents) {
    if (!a.active) continue;
    if (a.tier === 'suspended') rejected.suspended++;
    else if (excluded.has(a.name)) rejected.excluded++;
    else if (!a.specializations.includes(task.type)) rejected.specialization++;
    else if (!allowed.includes(a.tier) || (task.minTier && !tierAtLeast(a.tier, task.minTier))) rejected.tier++;
    else if (a.load >= a.capacity) rejected.capacity++;
    else eligible.push(a);
  }

  const tierText = task.minTier ? `${allowed.join('/')} at ${task.minTier} or above` : allowed.join('/');
  if (eligible.length === 0) {
    const why: string[] = [];
    if (rejected.capacity > 0) why.push(`${rejected.capacity} at capacity`);
    if (rejected.tier > 0) why.push(`${rejected.tier} of another tier`);
    if (rejected.suspended > 0) why.push(`${rejected.suspended} suspended`);
    if (rejected.excluded > 0) why.push(`${rejected.excluded} already tried`);
    if (rejected.specialization > 0) why.push(`${rejected.specialization} not ${task.type} specialists`);
    return {
      kind: 'pending',
      reason: `no ${tierText} ${task.type} agent with free capacity for ${task.priority}${why.length ? ` (${why.join(', ')})` : ''}`,
      reasons: [],
    };
  }

  const experience = eligible.reduce((sum, a) => sum + a.totalTasks, 0);
  const scored = eligible.map((a) => {
    const untried = a.totalTasks === 0 && policy.exploration > 0;
    const bonus = untried ? Infinity : a.totalTasks === 0 ? 0 : policy.exploration * Math.sqrt(Math.log(experience) / a.totalTasks);
    return { agent: a, bonus, score: a.rollingAvg + bonus };
  });
  // Untried agents first; ties go to the agent with the fewest tasks, then the lightest load.
  scored.sort(
    (x, y) =>
      (x.score === y.score ? 0 : y.score - x.score) ||
      x.agent.totalTasks - y.agent.totalTasks ||
      x.agent.load - y.agent.load ||
      x.agent.name.localeCompare(y.agent.name),
  );
  const best = scored[0]!;
  const a = best.agent;
  return {
    kind: 'assigned',
    agent: a.name,
    reasons: [
      `${task.type} specialist, tier ${a.tier} (allowed for ${task.priority}: ${tierText})`,
      best.bonus === Infinity
        ? 'has not had a task yet: untried agents go first'
        : `rolling average ${fmt(a.rollingAvg)} over ${a.totalTasks} tasks, exploration bonus +${fmt(best.bonus)}, score ${fmt(best.score)}`,
      `load ${a.load}/${a.capacity}`,
      `best of ${scored.length} eligible: ${scored
        .slice(0, 5)
        .map((s) => `${s.agent.name} ${s.bonus === Infinity ? 'untried' : fmt(s.score)}`)
        .join(', ')}`,
    ],
    candidates: scored.map((s) => ({ name: s.agent.name, score: s.score, bonus: s.bonus })),
  };
}
