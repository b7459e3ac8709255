/**
 * The router: a pure choice of agent for a task. Eligible agents are active, not suspended,
 * specialize in the task's type, hold a tier the priority allows and have free capacity.
 * Among them it chooses by each agent's posterior mean reward for the task's TYPE
 * (routing/posterior.ts: its outcomes on that type, shrunk toward its overall record):
 * - `thompson` (the default): one draw from each posterior, the highest draw wins. An agent
 *   is chosen as often as it is likely to be the best, so exploration fades by itself as the
 *   evidence grows, and an agent with little evidence still gets its share;
 * - `ucb`: the posterior mean plus `exploration` standard deviations, deterministic.
 * Task tags add `tagBonus` per tag the agent's file lists. Two exceptions come first:
 * - probation: an agent suspended by rewards (not by an operator) that has had neither task
 *   nor tier change for the cool-down takes a task its old junior tier could have had, so the
 *   evidence can change;
 * - the P0 fallback: a P0 that no eligible principal has taken within `p0MaxWaitMs` goes to
 *   the senior with the best lower bound, and the reasons say so.
 * The draw comes from `policy.rng`, so a seeded one makes a run reproducible.
 *
 * ```ts
 * const d = route({ type: 'bugfix', priority: 'P1' }, book.candidates('bugfix'), policyFrom(config, { now: Date.now(), rng: Math.random, fleetMean }));
 * if (d.kind === 'assigned') ... else d.reason // "no senior/principal bugfix agent with free capacity for P1 (2 at capacity)"
 * ```
 */
import type { AssignableTier, Config, Priority, TaskType, Tier } from '../config/schema.js';
import { agentPosterior, emptyTotals, formatBounds, gaussian, meanBounds, typeMeanSd, typePosterior, type Posterior, type Prior, type Totals } from './posterior.js';

export interface RoutableAgent {
  name: string;
  tier: Tier;
  specializations: readonly TaskType[];
  /** The agent file's `tags`. */
  tags?: readonly string[];
  /** Tasks the agent holds now (assigned or running). */
  load: number;
  capacity: number;
  active: boolean;
  /** Settled outcomes (rewards and failed runs): all of them, and per task type. */
  outcomes: Totals;
  byType?: Partial<Record<TaskType, Totals>>;
  /** Suspended by an operator: no probation, whatever the cool-down. */
  manualSuspension?: boolean;
  /** Epoch ms since which the agent has had neither a task nor a tier change (the probation clock). */
  quietSince?: number | null;
  /** Log Bradley–Terry strength from the pipeline's head-to-head pairs; 0 (or absent): average, or no pairs. */
  headToHead?: number;
}

export interface RoutableTask {
  type: TaskType;
  priority: Priority;
  tags?: readonly string[];
  /** An `agent:<name>` label or `--force-agent`: skips specialization and tier checks. */
  forcedAgent?: string | null;
  /** Agents that already failed this task. */
  excludeAgents?: readonly string[];
  /** Escalations raise the floor: only agents of this tier or above. */
  minTier?: AssignableTier | null;
  /** Epoch ms since the task waits: the P0 fallback's clock. */
  waitingSince?: number;
}

export interface RoutingPolicy {
  tiersByPriority: Record<Priority, readonly AssignableTier[]>;
  choice: 'thompson' | 'ucb';
  /** UCB only: standard deviations added to the mean. */
  exploration: number;
  /** Where an agent with no outcomes stands (the fleet's mean), and how sure that is. */
  prior: Prior;
  /** Pseudo-outcomes behind the overall record when it stands in for one type. */
  typePriorWeight: number;
  tagBonus: number;
  /** Reward points per unit of `headToHead`. */
  headToHeadWeight: number;
  p0MaxWaitMs: number;
  probationCooldownMs: number;
  /** Standard errors of a lower bound (the P0 fallback; tiers use the same). */
  confidence: number;
  rng: () => number;
  now: number;
}

export interface Candidate {
  name: string;
  score: number;
  mean: number;
  sd: number;
}

export type RouteDecision =
  | { kind: 'assigned'; agent: string; reasons: string[]; candidates: Candidate[]; via: 'forced' | 'choice' | 'probation' | 'p0-fallback' }
  | { kind: 'pending'; reason: string; reasons: string[] };

/** The policy from the config, with the clock, the random source and the fleet's mean. */
export function policyFrom(config: Pick<Config, 'routing' | 'coordinator' | 'tiers'>, at: { now: number; rng: () => number; fleetMean: number }): RoutingPolicy {
  const r = config.routing;
  return {
    tiersByPriority: { P0: r.P0, P1: r.P1, P2: r.P2 },
    choice: r.choice,
    exploration: config.coordinator.exploration,
    prior: { mean: at.fleetMean, sd: r.prior_sd, weight: r.prior_weight },
    typePriorWeight: r.type_prior_weight,
    tagBonus: r.tag_bonus,
    headToHeadWeight: r.head_to_head_weight,
    p0MaxWaitMs: r.p0_max_wait_ms,
    probationCooldownMs: config.tiers.probation_cooldown_ms,
    confidence: config.tiers.confidence,
    rng: at.rng,
    now: at.now,
  };
}

const tierRank: Record<Tier, number> = { suspended: -1, junior: 0, senior: 1, principal: 2 };

export const tierAtLeast = (tier: Tier, floor: AssignableTier): boolean => tierRank[tier] >= tierRank[floor];

/** The next tier up, for escalation; principal has none. */
export function nextTierUp(tier: Tier): AssignableTier | null {
  if (tier === 'suspended' || tier === 'junior') return 'senior';
  if (tier === 'senior') return 'principal';
  return null;
}

const fmt = (n: number): string => n.toFixed(2);
const minutes = (ms: number): string => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);

/** The agent's posterior for one task type. */
export function posteriorFor(a: RoutableAgent, type: TaskType, policy: Pick<RoutingPolicy, 'prior' | 'typePriorWeight'>): Posterior {
  return typePosterior(agentPosterior(a.outcomes, policy.prior), a.byType?.[type] ?? emptyTotals(), policy.typePriorWeight);
}

/** "mean 3.20 ± 0.45 (n=12)": the agent's own mean and the bounds its tier reads. */
function outcomesText(a: RoutableAgent, policy: RoutingPolicy): string {
  const b = meanBounds(a.outcomes, policy.prior, policy.confidence);
  return b ? `mean ${formatBounds(b)}` : 'no settled outcomes yet';
}

const evidence = (a: RoutableAgent, type: TaskType, p: Posterior): string =>
  `${type} mean ${fmt(p.mean)} ± ${fmt(p.sd)} from ${p.n} ${type} and ${a.outcomes.n} settled outcomes in all`;

function routeForced(task: RoutableTask, agents: readonly RoutableAgent[], name: string, policy: RoutingPolicy): RouteDecision {
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
  const p = posteriorFor(agent, task.type, policy);
  return {
    kind: 'assigned',
    agent: agent.name,
    via: 'forced',
    reasons: [
      `forced by the operator (agent "${name}")`,
      `tier ${agent.tier}, ${outcomesText(agent, policy)}`,
      ...(agent.specializations.includes(task.type) ? [] : [`note: not a ${task.type} specialist`]),
    ],
    candidates: [{ name: agent.name, score: p.mean, mean: p.mean, sd: p.sd }],
  };
}

interface Scored {
  agent: RoutableAgent;
  mean: number;
  sd: number;
  score: number;
}

/** Keeps the best `size` candidates by score, best first, without sorting the whole fleet. */
class TopList {
  readonly items: Scored[] = [];
  constructor(private readonly size: number) {}

  offer(agent: RoutableAgent, mean: number, sd: number, score: number): void {
    const items = this.items;
    if (items.length === this.size && !beats({ agent, score }, items[items.length - 1]!)) return;
    const item = { agent, mean, sd, score };
    let i = items.length;
    while (i > 0 && beats(item, items[i - 1]!)) i--;
    items.splice(i, 0, item);
    if (items.length > this.size) items.pop();
  }
}

/** Higher score first; ties to the lighter load, then by name (deterministic). */
function beats(x: { agent: RoutableAgent; score: number }, y: { agent: RoutableAgent; score: number }): boolean {
  if (x.score !== y.score) return x.score > y.score;
  if (x.agent.load !== y.agent.load) return x.agent.load < y.agent.load;
  return x.agent.name < y.agent.name;
}

interface Sorted {
  /** The best eligible agents by score, best first (scored as they are sorted). */
  top: TopList;
  eligible: number;
  /** P0 only: seniors that pass every check but the tier. */
  seniors: RoutableAgent[];
  /** Suspended by rewards, quiet for the cool-down, free. */
  probation: RoutableAgent[];
  rejected: { specialization: number; tier: number; capacity: number; suspended: number; excluded: number };
}

const scratch = { sd: 0 };

/**
 * One pass over the agents: each is rejected (and counted, for the pending reason), kept aside
 * (probation, the P0 fallback), or scored into the top list. No allocation per eligible agent
 * beyond the few that enter the top list: a decision over ten thousand agents stays well under
 * a millisecond.
 */
function sortAgents(task: RoutableTask, agents: readonly RoutableAgent[], policy: RoutingPolicy): Sorted {
  const allowed = policy.tiersByPriority[task.priority];
  const excluded = task.excludeAgents && task.excludeAgents.length > 0 ? new Set(task.excludeAgents) : null;
  const out: Sorted = { top: new TopList(10), eligible: 0, seniors: [], probation: [], rejected: { specialization: 0, tier: 0, capacity: 0, suspended: 0, excluded: 0 } };
  const seniorFallback = task.priority === 'P0' && !allowed.includes('senior') && (!task.minTier || tierAtLeast('senior', task.minTier));
  const probationAllowed = allowed.includes('junior') && (!task.minTier || task.minTier === 'junior');
  const tags = task.tags && task.tags.length > 0 ? task.tags : null;
  const thompson = policy.choice === 'thompson';
  for (const a of agents) {
    if (!a.active) continue;
    if (!a.specializations.includes(task.type)) out.rejected.specialization++;
    else if (excluded?.has(a.name)) out.rejected.excluded++;
    else if (a.tier === 'suspended') {
      out.rejected.suspended++;
      if (probationAllowed && onProbation(a, policy)) out.probation.push(a);
    } else if (a.load >= a.capacity) out.rejected.capacity++;
    else if (!allowed.includes(a.tier as AssignableTier) || (task.minTier && !tierAtLeast(a.tier, task.minTier))) {
      out.rejected.tier++;
      if (seniorFallback && a.tier === 'senior') out.seniors.push(a);
    } else {
      out.eligible++;
      const mean = typeMeanSd(a.outcomes, a.byType?.[task.type], policy.prior, policy.typePriorWeight, scratch);
      const draw = thompson ? mean + scratch.sd * gaussian(policy.rng) : mean + policy.exploration * scratch.sd;
      const bonus = (tags ? policy.tagBonus * matchingTags(a, tags) : 0) + policy.headToHeadWeight * (a.headToHead ?? 0);
      out.top.offer(a, mean, scratch.sd, draw + bonus);
    }
  }
  return out;
}

function onProbation(a: RoutableAgent, policy: RoutingPolicy): boolean {
  if (a.manualSuspension || a.load > 0 || a.capacity === 0) return false;
  return a.quietSince !== null && a.quietSince !== undefined && policy.now - a.quietSince >= policy.probationCooldownMs;
}

function pendingReason(task: RoutableTask, sorted: Sorted, policy: RoutingPolicy): string {
  const allowed = policy.tiersByPriority[task.priority];
  const tierText = task.minTier ? `${allowed.join('/')} at ${task.minTier} or above` : allowed.join('/');
  const { rejected } = sorted;
  const why: string[] = [];
  if (rejected.capacity > 0) why.push(`${rejected.capacity} at capacity`);
  if (rejected.tier > 0) why.push(`${rejected.tier} of another tier`);
  if (rejected.suspended > 0) why.push(`${rejected.suspended} suspended`);
  if (rejected.excluded > 0) why.push(`${rejected.excluded} already tried`);
  if (rejected.specialization > 0) why.push(`${rejected.specialization} not ${task.type} specialists`);
  const base = `no ${tierText} ${task.type} agent with free capacity for ${task.priority}${why.length ? ` (${why.join(', ')})` : ''}`;
  return sorted.seniors.length > 0 ? `${base}; the best senior takes it after ${minutes(policy.p0MaxWaitMs)} of waiting` : base;
}

/** Picks an agent for `task`, or says why none can take it now. */
export function route(task: RoutableTask, agents: readonly RoutableAgent[], policy: RoutingPolicy): RouteDecision {
  if (task.forcedAgent) return routeForced(task, agents, task.forcedAgent, policy);
  const sorted = sortAgents(task, agents, policy);
  if (sorted.probation.length > 0) return probationTask(task, sorted.probation, policy);
  if (sorted.eligible > 0) return choose(task, sorted, policy);
  const waited = task.waitingSince === undefined ? 0 : policy.now - task.waitingSince;
  if (sorted.seniors.length > 0 && waited >= policy.p0MaxWaitMs) return p0Fallback(task, sorted.seniors, waited, policy);
  return { kind: 'pending', reason: pendingReason(task, sorted, policy), reasons: [] };
}

function choose(task: RoutableTask, sorted: Sorted, policy: RoutingPolicy): RouteDecision {
  const items = sorted.top.items;
  const best = items[0]!;
  const a = best.agent;
  const allowed = policy.tiersByPriority[task.priority];
  const tierText = task.minTier ? `${allowed.join('/')} at ${task.minTier} or above` : allowed.join('/');
  const matches = task.tags && task.tags.length > 0 ? matchingTags(a, task.tags) : 0;
  const how = policy.choice === 'thompson' ? 'Thompson draw' : `upper bound (mean + ${fmt(policy.exploration)} sd)`;
  const post = { mean: best.mean, sd: best.sd, n: a.byType?.[task.type]?.n ?? 0, noiseSd: 0 };
  return {
    kind: 'assigned',
    agent: a.name,
    via: 'choice',
    reasons: [
      `${task.type} specialist, tier ${a.tier} (allowed for ${task.priority}: ${tierText})`,
      `${evidence(a, task.type, post)}; ${how} ${fmt(best.score)}${matches > 0 ? ` with +${fmt(policy.tagBonus * matches)} for ${matches} matching tag(s)` : ''}${headToHeadText(a, policy)}`,
      `load ${a.load}/${a.capacity}`,
      `best of ${sorted.eligible} eligible: ${items
        .slice(0, 5)
        .map((s) => `${s.agent.name} ${fmt(s.score)}`)
        .join(', ')}`,
    ],
    candidates: items.map((s) => ({ name: s.agent.name, score: s.score, mean: s.mean, sd: s.sd })),
  };
}

function headToHeadText(a: RoutableAgent, policy: RoutingPolicy): string {
  const h = a.headToHead ?? 0;
  if (h === 0 || policy.headToHeadWeight === 0) return '';
  return ` (${h > 0 ? '+' : ''}${fmt(policy.headToHeadWeight * h)} from its candidates' head-to-head record)`;
}

function matchingTags(agent: RoutableAgent, tags: readonly string[]): number {
  if (!agent.tags || agent.tags.length === 0) return 0;
  let n = 0;
  for (const t of tags) if (agent.tags.includes(t)) n++;
  return n;
}

function probationTask(task: RoutableTask, candidates: readonly RoutableAgent[], policy: RoutingPolicy): RouteDecision {
  // The one quiet longest first: probation goes round, one agent at a time.
  const a = candidates.reduce((x, y) => ((y.quietSince ?? 0) < (x.quietSince ?? 0) ? y : x));
  const post = posteriorFor(a, task.type, policy);
  return {
    kind: 'assigned',
    agent: a.name,
    via: 'probation',
    reasons: [
      `probation: ${a.name} was suspended by its rewards and has had no task for ${minutes(policy.now - (a.quietSince ?? policy.now))} (cool-down ${minutes(policy.probationCooldownMs)}), so it gets one task for the evidence to change`,
      outcomesText(a, policy),
    ],
    candidates: [{ name: a.name, score: post.mean, mean: post.mean, sd: post.sd }],
  };
}

function p0Fallback(task: RoutableTask, seniors: readonly RoutableAgent[], waited: number, policy: RoutingPolicy): RouteDecision {
  let best: { agent: RoutableAgent; post: Posterior; score: number } | null = null;
  for (const agent of seniors) {
    if (agent.load >= agent.capacity) continue;
    const post = posteriorFor(agent, task.type, policy);
    const item = { agent, post, score: post.mean - policy.confidence * post.sd };
    if (!best || beats(item, best)) best = item;
  }
  if (!best) return { kind: 'pending', reason: `no ${task.type} principal or senior with free capacity for P0`, reasons: [] };
  const a = best.agent;
  return {
    kind: 'assigned',
    agent: a.name,
    via: 'p0-fallback',
    reasons: [
      `P0 fallback: no eligible ${task.type} principal freed up within ${minutes(policy.p0MaxWaitMs)} (waited ${minutes(waited)}), so the senior with the best lower bound takes it`,
      `${evidence(a, task.type, best.post)}; lower bound ${fmt(best.score)}`,
      `load ${a.load}/${a.capacity}`,
    ],
    candidates: [{ name: a.name, score: best.score, mean: best.post.mean, sd: best.post.sd }],
  };
}
