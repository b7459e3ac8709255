/**
 * The routing simulator: 12 agents of known true skill per task type take a stream of tasks,
 * and each policy's cumulative regret is measured against the best specialist for the type.
 *
 * The project's policy is the bot's own code, not a copy: `route()` and `policyFrom()` from
 * src/routing/router.ts decide, over agents whose statistics are kept with the same
 * `addOutcome` the routing book uses, and `decideTier()` from src/tiers/rules.ts moves tiers
 * after every settled outcome, with the shipped config's defaults (failed_run_reward,
 * confidence, hysteresis, probation cool-down, P0 wait). The baselines:
 * - `random`: a uniform choice among the agents eligible under the seed's plain tiers;
 * - `plain`: the seed's rule, as the bot kept its books before this change: total tasks counted
 *   at assignment, failures invisible, an untried agent first, then the best rolling average
 *   of the last 10 final rewards, tiers from that average (`tierForAverage` over
 *   `rollingAverage`, the project's own functions);
 * - `oracle`: the eligible agent with the best true mean, tiers from true means.
 *
 * Time runs in steps of `STEP_MS` (5 minutes): one task arrives per step; a run lasts 4 to 12
 * steps; a failed run's outcome is known when it ends, a merge request's reward about
 * `rewardDelay` tasks after it was assigned. Everything is drawn from seeded generators.
 */
import { parseConfigText } from '../src/config/load.js';
import type { Config, Priority, TaskType, Tier } from '../src/config/schema.js';
import { addOutcome, emptyTotals, gaussian, seededRandom, type Totals } from '../src/routing/posterior.js';
import { policyFrom, route, type RoutableAgent } from '../src/routing/router.js';
import { decideTier, rollingAverage, tierForAverage } from '../src/tiers/rules.js';

export const STEP_MS = 5 * 60_000;
const TYPES: readonly TaskType[] = ['bugfix', 'feature', 'refactor', 'security'];

export interface TrueAgent {
  name: string;
  /** True mean reward of a published MR, per type (bugfix, feature, refactor, security). */
  skill: readonly [number, number, number, number];
  failRate: number;
  tier: Tier;
  specializations?: readonly TaskType[];
}

export interface Scenario {
  name: string;
  agents: readonly TrueAgent[];
  /** Tasks between an assignment and its reward settling. */
  rewardDelay: number;
  noiseSd: number;
}

export type PolicyName = 'project' | 'random' | 'plain' | 'oracle';

export interface SimResult {
  regret: number;
  /** P0 waits in steps: mean, max. */
  p0Wait: { mean: number; max: number };
  /** Tasks still waiting at the end. */
  unassigned: number;
  /** Agents of true mean ≥ 0 that rewards suspended at some point. */
  wronglySuspended: string[];
  /** Tasks each agent got, by type: for the specialist scenario. */
  taken: Map<string, Record<TaskType, number>>;
  /** How often each agent's tier moved. */
  tierChanges: Map<string, number>;
  /** Route calls timed (project policy), ms. */
  decisionMs: number[];
}

const base: TrueAgent[] = [
  { name: 'principal', skill: [4.5, 4.4, 4.3, 4.4], failRate: 0.05, tier: 'principal' },
  { name: 'senior-strong', skill: [3.6, 3.4, 3.1, 3.2], failRate: 0.1, tier: 'senior' },
  { name: 'senior-plain', skill: [3.0, 3.2, 2.8, 2.6], failRate: 0.1, tier: 'senior', specializations: ['bugfix', 'feature', 'refactor'] },
  { name: 'bugfix-specialist', skill: [4.6, 1.0, 1.2, 0.8], failRate: 0.08, tier: 'senior' },
  { name: 'junior-good', skill: [2.4, 2.6, 2.2, 2.0], failRate: 0.15, tier: 'junior' },
  { name: 'junior-weak', skill: [1.0, 1.2, 0.9, 0.8], failRate: 0.2, tier: 'junior' },
  { name: 'harmful', skill: [-1.5, -1.2, -1.0, -2.0], failRate: 0.2, tier: 'junior' },
  { name: 'security-specialist', skill: [1.5, 1.2, 1.0, 4.4], failRate: 0.1, tier: 'senior' },
  { name: 'feature-good', skill: [2.5, 4.0, 2.8, 2.0], failRate: 0.1, tier: 'senior' },
  { name: 'junior-marginal', skill: [0.7, 0.6, 0.8, 0.5], failRate: 0.15, tier: 'junior' },
  { name: 'refactor-good', skill: [2.0, 2.2, 4.1, 1.8], failRate: 0.12, tier: 'junior' },
  { name: 'senior-steady', skill: [3.2, 3.0, 3.3, 3.1], failRate: 0.05, tier: 'senior' },
];

export const scenarios: Scenario[] = [
  { name: 'per-type specialist', agents: base, rewardDelay: 15, noiseSd: 1.2 },
  {
    name: 'flaky agent',
    agents: base.map((a) => (a.name === 'senior-strong' ? { ...a, name: 'flaky', skill: [4.4, 4.3, 4.2, 4.3] as const, failRate: 0.5 } : a)),
    rewardDelay: 15,
    noiseSd: 1.2,
  },
  {
    name: 'nobody at principal level',
    agents: base.map((a) => ({ ...a, skill: a.skill.map((s) => Math.min(s, 3.6)) as unknown as TrueAgent['skill'] })),
    rewardDelay: 15,
    noiseSd: 1.2,
  },
  { name: 'late rewards', agents: base, rewardDelay: 60, noiseSd: 1.2 },
];

/** The true mean of an outcome: a failed run counts as the failed-run reward. */
export const trueMean = (a: TrueAgent, type: TaskType, failedRunReward: number): number =>
  (1 - a.failRate) * a.skill[TYPES.indexOf(type)]! + a.failRate * failedRunReward;

/** The agent's true mean over the four types, equally weighted (the stream's mix). */
const overallTrue = (a: TrueAgent, frr: number): number => TYPES.reduce((s, t) => s + trueMean(a, t, frr), 0) / TYPES.length;

interface Agent extends RoutableAgent {
  truth: TrueAgent;
  byType: Partial<Record<TaskType, Totals>>;
  /** Seed bookkeeping for the baselines. */
  finals: number[];
  assignedCount: number;
  lastAt: string | null;
  everSuspendedByRewards: boolean;
}

interface Task {
  id: number;
  type: TaskType;
  priority: Priority;
  arrived: number;
}

type Event = { at: number; agent: Agent; type: TaskType; value: number | null; freesSlot: boolean; settles: boolean };

function pickPriority(r: number): Priority {
  return r < 0.1 ? 'P0' : r < 0.4 ? 'P1' : 'P2';
}

const stamp = (step: number): string => new Date(Date.UTC(2026, 0, 1) + step * STEP_MS).toISOString();

/** Runs one scenario with one policy and one seed, `tasks` tasks long. */
export function simulate(scenario: Scenario, policy: PolicyName, seed: number, tasks = 2_000, config: Config = parseConfigText('', 'sim.toml')): SimResult {
  const world = seededRandom(seed * 7919 + 17); // the stream, the same for every policy
  const chance = seededRandom(seed * 104_729 + 3); // run lengths, failures, noise
  const choice = seededRandom(seed * 1_299_709 + 11); // the policy's own draws
  const frr = config.routing.failed_run_reward;
  const agents: Agent[] = scenario.agents.map((t) => ({
    name: t.name,
    tier: t.tier,
    specializations: t.specializations ?? TYPES,
    tags: [],
    load: 0,
    capacity: 2,
    active: true,
    outcomes: emptyTotals(),
    byType: {},
    manualSuspension: false,
    quietSince: Date.parse(stamp(0)),
    truth: t,
    finals: [],
    assignedCount: 0,
    lastAt: null,
    everSuspendedByRewards: false,
  }));
  if (policy === 'oracle') for (const a of agents) a.tier = tierForAverage(overallTrue(a.truth, frr), config.tiers);
  const best = new Map(TYPES.map((t) => [t, Math.max(...agents.filter((a) => a.specializations.includes(t)).map((a) => trueMean(a.truth, t, frr)))]));

  const stream: Task[] = Array.from({ length: tasks }, (_, i) => ({
    id: i,
    type: TYPES[Math.floor(world() * TYPES.length)]!,
    priority: pickPriority(world()),
    arrived: i,
  }));
  const result: SimResult = {
    regret: 0,
    p0Wait: { mean: 0, max: 0 },
    unassigned: 0,
    wronglySuspended: [],
    taken: new Map(agents.map((a) => [a.name, { bugfix: 0, feature: 0, refactor: 0, security: 0 }])),
    tierChanges: new Map(agents.map((a) => [a.name, 0])),
    decisionMs: [],
  };
  const events: Event[] = [];
  const pending: Task[] = [];
  const p0Waits: number[] = [];

  const settle = (e: Event, step: number) => {
    if (e.freesSlot) e.agent.load--;
    if (!e.settles) return;
    const a = e.agent;
    const value = e.value ?? frr;
    if (e.value !== null) a.finals.push(e.value);
    addOutcome((a.byType[e.type] ??= emptyTotals()), value);
    addOutcome(a.outcomes, value);
    a.lastAt = stamp(step);
    retier(a, step);
  };

  const retier = (a: Agent, step: number) => {
    if (policy === 'oracle') return;
    const before = a.tier;
    if (policy === 'project') {
      const rewards = a.finals.map((v) => ({ value: v, at: stamp(step) }));
      const d = decideTier({
        current: a.tier,
        override: null,
        rewards,
        evidence: { totals: a.outcomes, lastAt: a.lastAt },
        thresholds: config.tiers,
        prior: { sd: config.routing.prior_sd, weight: config.routing.prior_weight },
      });
      a.tier = d.tier;
    } else {
      // The seed's rule: failures invisible, the mean of the last 10 final rewards.
      const avg = rollingAverage(a.finals, config.tiers.evaluation_window);
      if (avg !== null) a.tier = tierForAverage(avg, config.tiers);
    }
    if (a.tier !== before) {
      result.tierChanges.set(a.name, result.tierChanges.get(a.name)! + 1);
      a.quietSince = Date.parse(stamp(step));
      if (a.tier === 'suspended' && overallTrue(a.truth, frr) >= 0) a.everSuspendedByRewards = true;
    }
  };

  const start = (task: Task, a: Agent, step: number) => {
    a.load++;
    a.assignedCount++;
    a.quietSince = Date.parse(stamp(step));
    result.taken.get(a.name)![task.type]++;
    result.regret += best.get(task.type)! - trueMean(a.truth, task.type, frr);
    if (task.priority === 'P0') p0Waits.push(step - task.arrived);
    const length = 4 + Math.floor(chance() * 9);
    const failed = chance() < a.truth.failRate;
    const noise = gaussian(chance) * scenario.noiseSd;
    const value = Math.max(-5, Math.min(5, a.truth.skill[TYPES.indexOf(task.type)]! + noise));
    if (failed) {
      events.push({ at: step + length, agent: a, type: task.type, value: null, freesSlot: true, settles: true });
    } else {
      const delay = Math.max(length, scenario.rewardDelay + Math.round((chance() - 0.5) * 10));
      events.push({ at: step + length, agent: a, type: task.type, value: null, freesSlot: true, settles: false });
      events.push({ at: step + delay, agent: a, type: task.type, value, freesSlot: false, settles: true });
    }
  };

  const decide = (task: Task, step: number): Agent | null => {
    if (policy === 'project') {
      const now = Date.parse(stamp(step));
      const fleet = agents.reduce((t, a) => ({ n: t.n + a.outcomes.n, sum: t.sum + a.outcomes.sum }), { n: 0, sum: 0 });
      const p = policyFrom(config, { now, rng: choice, fleetMean: fleet.n === 0 ? 0 : fleet.sum / fleet.n });
      const t0 = performance.now();
      const d = route({ type: task.type, priority: task.priority, waitingSince: Date.parse(stamp(task.arrived)) }, agents, p);
      result.decisionMs.push(performance.now() - t0);
      return d.kind === 'assigned' ? agents.find((a) => a.name === d.agent)! : null;
    }
    const allowed = config.routing[task.priority];
    const eligible = agents.filter(
      (a) => a.tier !== 'suspended' && a.specializations.includes(task.type) && allowed.includes(a.tier as 'junior') && a.load < a.capacity,
    );
    if (eligible.length === 0) {
      // The oracle knows nobody better will free up: a P0 goes to the best senior at once.
      if (policy !== 'oracle' || task.priority !== 'P0') return null;
      const seniors = agents.filter((a) => a.tier === 'senior' && a.specializations.includes(task.type) && a.load < a.capacity);
      return seniors.length === 0 ? null : seniors.reduce((x, y) => (trueMean(y.truth, task.type, frr) > trueMean(x.truth, task.type, frr) ? y : x));
    }
    if (policy === 'random') return eligible[Math.floor(choice() * eligible.length)]!;
    if (policy === 'oracle') return eligible.reduce((x, y) => (trueMean(y.truth, task.type, frr) > trueMean(x.truth, task.type, frr) ? y : x));
    const untried = eligible.find((a) => a.assignedCount === 0);
    if (untried) return untried;
    const avg = (a: Agent) => rollingAverage(a.finals, config.tiers.evaluation_window) ?? 0;
    return eligible.reduce((x, y) => (avg(y) > avg(x) ? y : x));
  };

  const order: Record<Priority, number> = { P0: 0, P1: 1, P2: 2 };
  const horizon = tasks + 400;
  for (let step = 0; step < horizon; step++) {
    for (let i = events.length - 1; i >= 0; i--) {
      if (events[i]!.at === step) {
        settle(events[i]!, step);
        events.splice(i, 1);
      }
    }
    if (step < tasks) pending.push(stream[step]!);
    if (pending.length === 0) continue;
    pending.sort((x, y) => order[x.priority] - order[y.priority] || x.id - y.id);
    for (let i = 0; i < pending.length; ) {
      const a = decide(pending[i]!, step);
      if (a) {
        start(pending[i]!, a, step);
        pending.splice(i, 1);
      } else i++;
    }
  }
  result.unassigned = pending.length;
  // A task never assigned costs what the oracle would have gained from it: it is not free.
  for (const t of pending) result.regret += best.get(t.type)!;
  result.p0Wait = { mean: p0Waits.reduce((s, w) => s + w, 0) / Math.max(1, p0Waits.length), max: Math.max(0, ...p0Waits) };
  result.wronglySuspended = agents.filter((a) => a.everSuspendedByRewards).map((a) => a.name);
  return result;
}
