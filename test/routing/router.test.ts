import { describe, expect, it } from 'vitest';
import {
  nextTierUp,
  route,
  tierAtLeast,
  type RoutableAgent,
  type RoutableTask,
  type RouteDecision,
  type RoutingPolicy,
} from '../../src/routing/router.js';

const policy: RoutingPolicy = {
  tiersByPriority: { P0: ['principal'], P1: ['senior', 'principal'], P2: ['junior', 'senior', 'principal'] },
  exploration: 1.5,
};

function agent(name: string, over: Partial<RoutableAgent> = {}): RoutableAgent {
  return {
    name,
    tier: 'senior',
    specializations: ['bugfix'],
    rollingAvg: 0,
    totalTasks: 0,
    load: 0,
    capacity: 2,
    active: true,
    ...over,
  };
}

const bugP2: RoutableTask = { type: 'bugfix', priority: 'P2' };

function assigned(d: RouteDecision): Extract<RouteDecision, { kind: 'assigned' }> {
  if (d.kind !== 'assigned') throw new Error(`expected an assignment, got pending: ${d.reason}`);
  return d;
}
function pending(d: RouteDecision): Extract<RouteDecision, { kind: 'pending' }> {
  if (d.kind !== 'pending') throw new Error(`expected pending, got ${d.agent}`);
  return d;
}

describe('eligibility', () => {
  it('assigns the only eligible agent and explains why', () => {
    const d = assigned(route(bugP2, [agent('a', { rollingAvg: 2.5, totalTasks: 4, load: 1 })], policy));
    expect(d.agent).toBe('a');
    expect(d.reasons[0]).toBe('bugfix specialist, tier senior (allowed for P2: junior/senior/principal)');
    expect(d.reasons[1]).toMatch(/^rolling average 2\.50 over 4 tasks, exploration bonus \+\d\.\d\d, score \d\.\d\d$/);
    expect(d.reasons[2]).toBe('load 1/2');
    expect(d.reasons[3]).toMatch(/^best of 1 eligible: a \d\.\d\d$/);
    expect(d.candidates.map((c) => c.name)).toEqual(['a']);
  });

  it('skips suspended agents and says so', () => {
    const agents = [agent('s', { tier: 'suspended', rollingAvg: 5 }), agent('ok', { tier: 'junior' })];
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('ok');
    const d = pending(route(bugP2, [agents[0]!], policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2 (1 suspended)');
  });

  it('skips inactive agents silently (their file is gone)', () => {
    const d = pending(route(bugP2, [agent('gone', { active: false })], policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2');
    expect(assigned(route(bugP2, [agent('gone', { active: false, rollingAvg: 5 }), agent('here')], policy)).agent).toBe('here');
  });

  it('skips agents of another specialization', () => {
    const agents = [agent('feat', { specializations: ['feature'], rollingAvg: 5 }), agent('bug', { specializations: ['bugfix', 'refactor'] })];
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('bug');
    const d = pending(route({ type: 'security', priority: 'P2' }, agents, policy));
    expect(d.reason).toBe('no junior/senior/principal security agent with free capacity for P2 (2 not security specialists)');
  });

  it('skips agents whose tier the priority does not allow', () => {
    const agents = [agent('jr', { tier: 'junior', rollingAvg: 5 }), agent('sr', { tier: 'senior' }), agent('pr', { tier: 'principal' })];
    expect(assigned(route({ type: 'bugfix', priority: 'P1' }, agents, policy)).candidates.map((c) => c.name).sort()).toEqual(['pr', 'sr']);
    expect(assigned(route({ type: 'bugfix', priority: 'P0' }, agents, policy)).agent).toBe('pr');
    const d = pending(route({ type: 'bugfix', priority: 'P0' }, agents.slice(0, 2), policy));
    expect(d.reason).toBe('no principal bugfix agent with free capacity for P0 (2 of another tier)');
  });

  it('skips agents at capacity', () => {
    const agents = [agent('full', { load: 2, capacity: 2, rollingAvg: 5 }), agent('over', { load: 3, capacity: 2 }), agent('free', { load: 1 })];
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('free');
    const d = pending(route(bugP2, agents.slice(0, 2), policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2 (2 at capacity)');
  });

  it('skips excluded agents (they already failed the task)', () => {
    const agents = [agent('tried', { rollingAvg: 5, totalTasks: 10 }), agent('other')];
    expect(assigned(route({ ...bugP2, excludeAgents: ['tried'] }, agents, policy)).agent).toBe('other');
    const d = pending(route({ ...bugP2, excludeAgents: ['tried', 'other'] }, agents, policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2 (2 already tried)');
  });

  it('applies a minTier floor on top of the priority', () => {
    const agents = [agent('jr', { tier: 'junior', rollingAvg: 5, totalTasks: 50 }), agent('sr', { tier: 'senior' }), agent('pr', { tier: 'principal' })];
    const senior = assigned(route({ ...bugP2, minTier: 'senior' }, agents, policy));
    expect(senior.candidates.map((c) => c.name).sort()).toEqual(['pr', 'sr']);
    expect(senior.reasons[0]).toContain('junior/senior/principal at senior or above');
    expect(assigned(route({ ...bugP2, minTier: 'principal' }, agents, policy)).agent).toBe('pr');
    const d = pending(route({ ...bugP2, minTier: 'principal' }, agents.slice(0, 2), policy));
    expect(d.reason).toBe('no junior/senior/principal at principal or above bugfix agent with free capacity for P2 (2 of another tier)');
  });

  it('names every reason at once when nobody is eligible', () => {
    const agents = [
      agent('full', { load: 1, capacity: 1 }),
      agent('jr', { tier: 'junior' }),
      agent('susp', { tier: 'suspended' }),
      agent('tried'),
      agent('feat', { specializations: ['feature'] }),
    ];
    const d = pending(route({ type: 'bugfix', priority: 'P1', excludeAgents: ['tried'] }, agents, policy));
    expect(d.reason).toBe(
      'no senior/principal bugfix agent with free capacity for P1 (1 at capacity, 1 of another tier, 1 suspended, 1 already tried, 1 not bugfix specialists)',
    );
    expect(d.reasons).toEqual([]);
  });

  it('is pending with an empty pool', () => {
    expect(pending(route(bugP2, [], policy)).reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2');
  });
});

describe('forced agent', () => {
  const pool = [
    agent('sec', { tier: 'junior', specializations: ['security'], rollingAvg: 1.234, totalTasks: 3 }),
    agent('susp', { tier: 'suspended' }),
    agent('busy', { load: 2, capacity: 2 }),
    agent('gone', { active: false }),
    agent('best', { rollingAvg: 5, totalTasks: 100 }),
  ];

  it('assigns the forced agent even outside its specialization and the priority tiers', () => {
    const d = assigned(route({ type: 'bugfix', priority: 'P0', forcedAgent: 'sec' }, pool, policy));
    expect(d.agent).toBe('sec');
    expect(d.reasons).toEqual([
      'forced by the operator (agent "sec")',
      'tier junior, rolling average 1.23 over 3 tasks',
      'note: not a bugfix specialist',
    ]);
    expect(d.candidates).toEqual([{ name: 'sec', score: 1.234, bonus: 0 }]);
  });

  it('adds no specialization note for a specialist', () => {
    const d = assigned(route({ type: 'security', priority: 'P2', forcedAgent: 'sec' }, pool, policy));
    expect(d.reasons).toHaveLength(2);
  });

  it('ignores the exclusion list and minTier when forced', () => {
    const d = route({ type: 'security', priority: 'P2', forcedAgent: 'sec', excludeAgents: ['sec'], minTier: 'principal' }, pool, policy);
    expect(assigned(d).agent).toBe('sec');
  });

  it('stays pending when the forced agent is missing or inactive', () => {
    expect(pending(route({ ...bugP2, forcedAgent: 'nobody' }, pool, policy)).reason).toBe('forced agent "nobody" does not exist');
    expect(pending(route({ ...bugP2, forcedAgent: 'gone' }, pool, policy)).reason).toBe('forced agent "gone" does not exist');
  });

  it('stays pending when the forced agent is suspended', () => {
    expect(pending(route({ ...bugP2, forcedAgent: 'susp' }, pool, policy)).reason).toBe('forced agent "susp" is suspended');
  });

  it('stays pending when the forced agent is at capacity', () => {
    expect(pending(route({ ...bugP2, forcedAgent: 'busy' }, pool, policy)).reason).toBe('forced agent "busy" is at capacity (2/2)');
  });

  it('treats an empty or null forced agent as not forced', () => {
    expect(assigned(route({ ...bugP2, forcedAgent: null }, pool, policy)).agent).toBe('best');
    expect(assigned(route({ ...bugP2, forcedAgent: '' }, pool, policy)).agent).toBe('best');
  });
});

describe('UCB ranking', () => {
  it('gives the task to the best average among experienced agents', () => {
    const agents = [
      agent('mid', { rollingAvg: 2, totalTasks: 30 }),
      agent('top', { rollingAvg: 4, totalTasks: 30 }),
      agent('low', { rollingAvg: -1, totalTasks: 30 }),
    ];
    const d = assigned(route(bugP2, agents, policy));
    expect(d.agent).toBe('top');
    expect(d.candidates.map((c) => c.name)).toEqual(['top', 'mid', 'low']);
    // Equal experience: equal bonus, so the scores keep the averages' gaps.
    const [top, mid] = d.candidates;
    expect(top!.bonus).toBeCloseTo(1.5 * Math.sqrt(Math.log(90) / 30), 10);
    expect(top!.score - mid!.score).toBeCloseTo(2, 10);
  });

  it('tries an agent that never had a task before proven ones', () => {
    const agents = [agent('proven-a', { rollingAvg: 4.5, totalTasks: 40 }), agent('proven-b', { rollingAvg: 2.5, totalTasks: 2 }), agent('fresh')];
    const d = assigned(route(bugP2, agents, policy));
    expect(d.agent).toBe('fresh');
    expect(d.reasons[1]).toBe('has not had a task yet: untried agents go first');
    expect(d.reasons[3]).toContain('fresh untried');
  });

  it('keeps a newcomer in play while it has few tasks, then lets the averages decide', () => {
    const proven = agent('proven', { rollingAvg: 2.5, totalTasks: 50 });
    // ln(51) / 1: a large bonus after one task...
    expect(assigned(route(bugP2, [proven, agent('newcomer', { rollingAvg: 1, totalTasks: 1 })], policy)).agent).toBe('newcomer');
    // ...a small one after ten, when its average of 1 no longer competes with 2.5.
    const d = assigned(route(bugP2, [proven, agent('newcomer', { rollingAvg: 1, totalTasks: 10 })], policy));
    expect(d.agent).toBe('proven');
    expect(d.candidates[1]!.score).toBeCloseTo(1 + 1.5 * Math.sqrt(Math.log(60) / 10), 10);
  });

  it('with exploration 0 always takes the best average', () => {
    const agents = [agent('proven', { rollingAvg: 0.5, totalTasks: 1000 }), agent('fresh')];
    expect(assigned(route(bugP2, agents, { ...policy, exploration: 0 })).agent).toBe('proven');
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('fresh');
  });

  it('breaks ties in a fresh pool by name', () => {
    const agents = [agent('c'), agent('a'), agent('b')];
    const d = assigned(route(bugP2, agents, policy));
    expect(d.agent).toBe('a');
    expect(d.candidates).toEqual([
      { name: 'a', score: Infinity, bonus: Infinity },
      { name: 'b', score: Infinity, bonus: Infinity },
      { name: 'c', score: Infinity, bonus: Infinity },
    ]);
  });

  it('breaks equal scores by fewest tasks, then lightest load, then name', () => {
    const flat = { ...policy, exploration: 0 };
    const agents = [
      agent('a-many', { rollingAvg: 1, totalTasks: 9 }),
      agent('z-few-busy', { rollingAvg: 1, totalTasks: 2, load: 1 }),
      agent('y-few-idle', { rollingAvg: 1, totalTasks: 2 }),
      agent('x-few-idle', { rollingAvg: 1, totalTasks: 2 }),
    ];
    expect(assigned(route(bugP2, agents, flat)).candidates.map((c) => c.name)).toEqual(['x-few-idle', 'y-few-idle', 'z-few-busy', 'a-many']);
  });

  it('is deterministic: the same input, in any order, gives the same decision', () => {
    const agents = [
      agent('p', { rollingAvg: 3.1, totalTasks: 7 }),
      agent('q', { rollingAvg: 2.2, totalTasks: 1 }),
      agent('r', { rollingAvg: 3.9, totalTasks: 20 }),
      agent('s'),
    ];
    const first = route(bugP2, agents, policy);
    expect(route(bugP2, [...agents].reverse(), policy)).toEqual(first);
    expect(route(bugP2, [agents[2]!, agents[0]!, agents[3]!, agents[1]!], policy)).toEqual(first);
  });

  it('lists at most five candidates in the reasons but returns all of them', () => {
    const agents = Array.from({ length: 7 }, (_, i) => agent(`a${i}`, { rollingAvg: i, totalTasks: 5 }));
    const d = assigned(route(bugP2, agents, policy));
    expect(d.agent).toBe('a6');
    expect(d.candidates).toHaveLength(7);
    expect(d.reasons[3]!.startsWith('best of 7 eligible: a6 ')).toBe(true);
    expect(d.reasons[3]!.split(', ')).toHaveLength(5);
  });
});

describe('fair share over many rounds', () => {
  it('gives every agent some tasks and the best agent the most', () => {
    // Averages far above 0: untried-first keeps newcomers from starving behind them.
    const truth: Record<string, number> = { strong: 4.0, middling: 3.0, weak: 2.0 };
    const pool = Object.keys(truth).map((name) => agent(name));
    const counts: Record<string, number> = { strong: 0, middling: 0, weak: 0 };
    for (let round = 0; round < 200; round++) {
      const d = assigned(route(bugP2, pool, policy));
      counts[d.agent]!++;
      const picked = pool.find((a) => a.name === d.agent)!;
      picked.totalTasks++;
      picked.rollingAvg = truth[picked.name]!;
    }
    expect(counts.strong! + counts.middling! + counts.weak!).toBe(200);
    expect(counts.weak).toBeGreaterThan(0);
    expect(counts.middling).toBeGreaterThan(0);
    expect(counts.strong).toBeGreaterThan(counts.middling! + counts.weak!);
    expect(counts.middling).toBeGreaterThan(counts.weak!);
  });

  it('with exploration 0 never gives a fresh agent a task once one agent has a positive average', () => {
    const pool = [agent('a'), agent('b'), agent('c')];
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let round = 0; round < 50; round++) {
      const d = assigned(route(bugP2, pool, { ...policy, exploration: 0 }));
      counts[d.agent]!++;
      const picked = pool.find((a) => a.name === d.agent)!;
      picked.totalTasks++;
      picked.rollingAvg = 1;
    }
    expect(counts).toEqual({ a: 50, b: 0, c: 0 });
  });
});

describe('tiers', () => {
  it('nextTierUp escalates one tier and stops at principal', () => {
    expect(nextTierUp('suspended')).toBe('senior');
    expect(nextTierUp('junior')).toBe('senior');
    expect(nextTierUp('senior')).toBe('principal');
    expect(nextTierUp('principal')).toBeNull();
  });

  it('tierAtLeast orders suspended < junior < senior < principal', () => {
    expect(tierAtLeast('junior', 'junior')).toBe(true);
    expect(tierAtLeast('junior', 'senior')).toBe(false);
    expect(tierAtLeast('principal', 'senior')).toBe(true);
    expect(tierAtLeast('suspended', 'junior')).toBe(false);
  });
});
