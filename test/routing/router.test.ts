import { describe, expect, it } from 'vitest';
import { addOutcome, emptyTotals, seededRandom, type Totals } from '../../src/routing/posterior.js';
import {
  nextTierUp,
  posteriorFor,
  route,
  tierAtLeast,
  type RoutableAgent,
  type RoutableTask,
  type RouteDecision,
  type RoutingPolicy,
} from '../../src/routing/router.js';

const NOW = Date.parse('2026-01-10T12:00:00.000Z');
const HOUR = 3_600_000;

const policy: RoutingPolicy = {
  tiersByPriority: { P0: ['principal'], P1: ['senior', 'principal'], P2: ['junior', 'senior', 'principal'] },
  choice: 'ucb',
  exploration: 0.5,
  prior: { mean: 1, sd: 1.5, weight: 2 },
  typePriorWeight: 1,
  tagBonus: 0.5,
  headToHeadWeight: 0.5,
  p0MaxWaitMs: 15 * 60_000,
  probationCooldownMs: 24 * HOUR,
  confidence: 1.645,
  rng: () => 0.5,
  now: NOW,
};

const totals = (values: readonly number[]): Totals => values.reduce((t, v) => addOutcome(t, v), emptyTotals());

/** An agent whose settled outcomes are `rewards`, all on bugfix unless `byType` says otherwise. */
function agent(name: string, over: Partial<RoutableAgent> & { rewards?: number[] } = {}): RoutableAgent {
  const { rewards = [], ...rest } = over;
  return {
    name,
    tier: 'senior',
    specializations: ['bugfix'],
    load: 0,
    capacity: 2,
    active: true,
    outcomes: totals(rewards),
    byType: { bugfix: totals(rewards) },
    quietSince: NOW - HOUR,
    ...rest,
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

const good = [4, 4.5, 4, 4.5, 4];

describe('eligibility', () => {
  it('assigns the only eligible agent and explains why', () => {
    const d = assigned(route(bugP2, [agent('a', { rewards: [2.5, 2.5, 2.5, 2.5], load: 1 })], policy));
    expect(d.agent).toBe('a');
    expect(d.via).toBe('choice');
    expect(d.reasons[0]).toBe('bugfix specialist, tier senior (allowed for P2: junior/senior/principal)');
    expect(d.reasons[1]).toMatch(/^bugfix mean \d\.\d\d ± \d\.\d\d from 4 bugfix and 4 settled outcomes in all; upper bound \(mean \+ 0\.50 sd\) \d\.\d\d$/);
    expect(d.reasons[2]).toBe('load 1/2');
    expect(d.reasons[3]).toMatch(/^best of 1 eligible: a \d\.\d\d$/);
    expect(d.candidates.map((c) => c.name)).toEqual(['a']);
  });

  it('skips suspended agents and says so', () => {
    const agents = [agent('s', { tier: 'suspended', rewards: good }), agent('ok', { tier: 'junior' })];
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('ok');
    const d = pending(route(bugP2, [agents[0]!], policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2 (1 suspended)');
  });

  it('skips inactive agents silently (their file is gone)', () => {
    const d = pending(route(bugP2, [agent('gone', { active: false })], policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2');
    expect(assigned(route(bugP2, [agent('gone', { active: false, rewards: good }), agent('here')], policy)).agent).toBe('here');
  });

  it('skips agents of another specialization', () => {
    const agents = [agent('feat', { specializations: ['feature'], rewards: good }), agent('bug', { specializations: ['bugfix', 'refactor'] })];
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('bug');
    const d = pending(route({ type: 'security', priority: 'P2' }, agents, policy));
    expect(d.reason).toBe('no junior/senior/principal security agent with free capacity for P2 (2 not security specialists)');
  });

  it('skips agents whose tier the priority does not allow', () => {
    const agents = [agent('jr', { tier: 'junior', rewards: good }), agent('sr', { tier: 'senior' }), agent('pr', { tier: 'principal' })];
    expect(assigned(route({ type: 'bugfix', priority: 'P1' }, agents, policy)).candidates.map((c) => c.name).sort()).toEqual(['pr', 'sr']);
    expect(assigned(route({ type: 'bugfix', priority: 'P0' }, agents, policy)).agent).toBe('pr');
    const d = pending(route({ type: 'bugfix', priority: 'P0' }, agents.slice(0, 2), policy));
    expect(d.reason).toBe('no principal bugfix agent with free capacity for P0 (2 of another tier); the best senior takes it after 15 min of waiting');
  });

  it('skips agents at capacity', () => {
    const agents = [agent('full', { load: 2, capacity: 2, rewards: good }), agent('over', { load: 3, capacity: 2 }), agent('free', { load: 1 })];
    expect(assigned(route(bugP2, agents, policy)).agent).toBe('free');
    const d = pending(route(bugP2, agents.slice(0, 2), policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2 (2 at capacity)');
  });

  it('skips excluded agents (they already failed the task)', () => {
    const agents = [agent('tried', { rewards: good }), agent('other')];
    expect(assigned(route({ ...bugP2, excludeAgents: ['tried'] }, agents, policy)).agent).toBe('other');
    const d = pending(route({ ...bugP2, excludeAgents: ['tried', 'other'] }, agents, policy));
    expect(d.reason).toBe('no junior/senior/principal bugfix agent with free capacity for P2 (2 already tried)');
  });

  it('applies a minTier floor on top of the priority', () => {
    const agents = [agent('jr', { tier: 'junior', rewards: good }), agent('sr', { tier: 'senior' }), agent('pr', { tier: 'principal' })];
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
    agent('sec', { tier: 'junior', specializations: ['security'], rewards: [1, 1.5, 1.2] }),
    agent('susp', { tier: 'suspended' }),
    agent('busy', { load: 2, capacity: 2 }),
    agent('gone', { active: false }),
    agent('best', { rewards: good }),
  ];

  it('assigns the forced agent even outside its specialization and the priority tiers', () => {
    const d = assigned(route({ type: 'bugfix', priority: 'P0', forcedAgent: 'sec' }, pool, policy));
    expect(d.agent).toBe('sec');
    expect(d.reasons).toEqual(['forced by the operator (agent "sec")', 'tier junior, mean 1.23 ± 0.91 (n=3)', 'note: not a bugfix specialist']);
    expect(d.via).toBe('forced');
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

describe('the posterior per (agent, type)', () => {
  it('is the agent\'s overall record for a type it has not done, its own record for one it has', () => {
    const generalist = agent('g', { specializations: ['bugfix', 'feature'], rewards: [3, 3, 3, 3], byType: { feature: totals([3, 3, 3, 3]) } });
    const bug = posteriorFor(generalist, 'bugfix', policy);
    const feature = posteriorFor(generalist, 'feature', policy);
    // Overall: (2 × 1 + 12) / 6 = 2.33, the fleet's mean pulling four rewards of 3 down.
    expect(bug.mean).toBeCloseTo(14 / 6, 10);
    expect(bug.n).toBe(0);
    expect(feature.mean).toBeGreaterThan(bug.mean);
    expect(feature.sd).toBeLessThan(bug.sd);
  });

  it('narrows with every outcome and moves toward the rewards', () => {
    const sds: number[] = [];
    const means: number[] = [];
    for (let n = 0; n <= 20; n += 5) {
      const p = posteriorFor(agent('a', { rewards: Array(n).fill(4) }), 'bugfix', policy);
      sds.push(p.sd);
      means.push(p.mean);
    }
    for (let i = 1; i < sds.length; i++) {
      expect(sds[i]).toBeLessThan(sds[i - 1]!);
      expect(means[i]).toBeGreaterThan(means[i - 1]!);
    }
    expect(means.at(-1)).toBeGreaterThan(3.8);
  });

  it('picks the per-type specialist over a better generalist on its type, and not on others', () => {
    const specialist = agent('spec', {
      specializations: ['bugfix', 'feature'],
      rewards: [...Array(10).fill(4.6), ...Array(10).fill(1)],
      byType: { bugfix: totals(Array(10).fill(4.6)), feature: totals(Array(10).fill(1)) },
    });
    const generalist = agent('gen', {
      specializations: ['bugfix', 'feature'],
      rewards: Array(20).fill(3.5),
      byType: { bugfix: totals(Array(10).fill(3.5)), feature: totals(Array(10).fill(3.5)) },
    });
    expect(assigned(route(bugP2, [specialist, generalist], policy)).agent).toBe('spec');
    expect(assigned(route({ type: 'feature', priority: 'P2' }, [specialist, generalist], policy)).agent).toBe('gen');
  });
});

describe('the choice', () => {
  it('UCB: the highest mean plus exploration standard deviations; a newcomer is tried while its bound is high', () => {
    const proven = agent('proven', { rewards: Array(30).fill(2.5) });
    const fresh = agent('fresh');
    // The newcomer's bound: the fleet's mean 1 plus half its wide sd, not above 2.5.
    expect(assigned(route(bugP2, [proven, fresh], policy)).agent).toBe('proven');
    const wide = { ...policy, exploration: 2 };
    expect(assigned(route(bugP2, [proven, fresh], wide)).agent).toBe('fresh');
    const d = assigned(route(bugP2, [proven, fresh], policy));
    for (const c of d.candidates) expect(c.score).toBeCloseTo(c.mean + 0.5 * c.sd, 10);
  });

  it('Thompson: draws from each posterior with the injected random source, reproducibly', () => {
    const pool = [agent('a', { rewards: [3, 3.5, 2.5] }), agent('b', { rewards: [3.2, 2.8] }), agent('c')];
    const thompson = (seed: number) => ({ ...policy, choice: 'thompson' as const, rng: seededRandom(seed) });
    const run = (seed: number) => {
      const p = thompson(seed);
      return Array.from({ length: 50 }, () => assigned(route(bugP2, pool, p)).agent);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    const counts = run(7).reduce<Record<string, number>>((m, a) => ({ ...m, [a]: (m[a] ?? 0) + 1 }), {});
    // Every agent with a chance of being best gets some of the work.
    expect(Object.keys(counts).sort()).toEqual(['a', 'b', 'c']);
    expect(assigned(route(bugP2, pool, thompson(7))).reasons[1]).toMatch(/; Thompson draw -?\d\.\d\d$/);
  });

  it('breaks equal scores by the lighter load, then by name', () => {
    const agents = [agent('z-busy', { load: 1, rewards: [2] }), agent('y-idle', { rewards: [2] }), agent('x-idle', { rewards: [2] })];
    expect(assigned(route(bugP2, agents, policy)).candidates.map((c) => c.name)).toEqual(['x-idle', 'y-idle', 'z-busy']);
  });

  it('is deterministic under UCB: the same input, in any order, gives the same decision', () => {
    const agents = [agent('p', { rewards: [3, 3.2] }), agent('q', { rewards: [2.2] }), agent('r', { rewards: Array(20).fill(3.9) }), agent('s')];
    const first = route(bugP2, agents, policy);
    expect(route(bugP2, [...agents].reverse(), policy)).toEqual(first);
  });

  it('lists at most five candidates in the reasons and returns the best ten', () => {
    const agents = Array.from({ length: 12 }, (_, i) => agent(`a${String(i).padStart(2, '0')}`, { rewards: Array(10).fill(i / 3) }));
    const d = assigned(route(bugP2, agents, policy));
    expect(d.agent).toBe('a11');
    expect(d.candidates).toHaveLength(10);
    expect(d.candidates.map((c) => c.name).slice(0, 3)).toEqual(['a11', 'a10', 'a09']);
    expect(d.reasons[3]!.startsWith('best of 12 eligible: a11 ')).toBe(true);
    expect(d.reasons[3]!.split(', ')).toHaveLength(5);
  });

  it('prefers agents whose file lists the task\'s tags, by tagBonus per tag', () => {
    const tagged = agent('tagged', { rewards: Array(10).fill(3), tags: ['api', 'db'] });
    const plain = agent('plain', { rewards: Array(10).fill(3.3) });
    expect(assigned(route(bugP2, [tagged, plain], policy)).agent).toBe('plain');
    const d = assigned(route({ ...bugP2, tags: ['api', 'ui'] }, [tagged, plain], policy));
    expect(d.agent).toBe('tagged');
    expect(d.reasons[1]).toContain('with +0.50 for 1 matching tag(s)');
    expect(assigned(route({ ...bugP2, tags: ['api'] }, [tagged, plain], { ...policy, tagBonus: 0 })).agent).toBe('plain');
  });
});

describe('probation', () => {
  const suspended = (over: Partial<RoutableAgent> = {}) => agent('sus', { tier: 'suspended', rewards: [-1, -2, -1, -2, -1], ...over });
  const other = agent('other', { tier: 'junior', rewards: good });

  it('gives an agent suspended by rewards one task after the cool-down', () => {
    expect(assigned(route(bugP2, [suspended({ quietSince: NOW - 23 * HOUR }), other], policy)).agent).toBe('other');
    const d = assigned(route(bugP2, [suspended({ quietSince: NOW - 25 * HOUR }), other], policy));
    expect(d.agent).toBe('sus');
    expect(d.via).toBe('probation');
    expect(d.reasons[0]).toBe(
      'probation: sus was suspended by its rewards and has had no task for 1500 min (cool-down 1440 min), so it gets one task for the evidence to change',
    );
    expect(d.reasons[1]).toMatch(/^mean -1\.40 ± \d\.\d\d \(n=5\)$/);
  });

  it('never for an operator\'s suspension, one at a time, and only where a junior could work', () => {
    const old = NOW - 100 * HOUR;
    expect(assigned(route(bugP2, [suspended({ quietSince: old, manualSuspension: true }), other], policy)).agent).toBe('other');
    expect(assigned(route(bugP2, [suspended({ quietSince: old, load: 1 }), other], policy)).agent).toBe('other');
    const p1 = { type: 'bugfix', priority: 'P1' } as const;
    expect(assigned(route(p1, [suspended({ quietSince: old }), agent('sr', { rewards: good })], policy)).agent).toBe('sr');
  });
});

describe('the P0 fallback', () => {
  const seniors = [agent('steady', { rewards: Array(20).fill(3.2) }), agent('lucky', { rewards: [4.8, 1.5] })];
  const p0 = (waited: number): RoutableTask => ({ type: 'bugfix', priority: 'P0', waitingSince: NOW - waited });

  it('waits for a principal until p0MaxWaitMs, saying a senior comes next', () => {
    const d = pending(route(p0(10 * 60_000), seniors, policy));
    expect(d.reason).toBe('no principal bugfix agent with free capacity for P0 (2 of another tier); the best senior takes it after 15 min of waiting');
  });

  it('then gives it to the senior with the best lower bound, and says why', () => {
    const d = assigned(route(p0(16 * 60_000), seniors, policy));
    // lucky's mean is higher but its bound is wide; steady's lower bound is the better one.
    expect(d.agent).toBe('steady');
    expect(d.via).toBe('p0-fallback');
    expect(d.reasons[0]).toBe(
      'P0 fallback: no eligible bugfix principal freed up within 15 min (waited 16 min), so the senior with the best lower bound takes it',
    );
    expect(d.reasons[1]).toMatch(/; lower bound \d\.\d\d$/);
  });

  it('prefers a free principal however long the task waited, and keeps an escalation\'s floor', () => {
    const pool = [...seniors, agent('pr', { tier: 'principal', rewards: [2, 2] })];
    expect(assigned(route(p0(HOUR), pool, policy)).agent).toBe('pr');
    expect(pending(route({ ...p0(HOUR), minTier: 'principal' }, seniors, policy)).reason).not.toContain('senior takes it');
  });

  it('stays pending when the seniors are busy too', () => {
    const busy = seniors.map((a) => ({ ...a, load: a.capacity }));
    expect(pending(route(p0(HOUR), busy, policy)).reason).toBe('no principal bugfix agent with free capacity for P0 (2 at capacity)');
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

describe('head-to-head evidence', () => {
  it('an agent whose candidates beat others\' on the same tasks ranks above an equal record without it', () => {
    const even = [3, 3, 3];
    const d = route({ type: 'bugfix', priority: 'P2' }, [agent('a', { rewards: even }), agent('b', { rewards: even, headToHead: Math.log(3) })], policy);
    expect(d).toMatchObject({ kind: 'assigned', agent: 'b' });
    if (d.kind !== 'assigned') throw new Error('assigned');
    // 0.5 × ln 3 ≈ +0.55 on the score, said in the reasons.
    expect(d.reasons.join('\n')).toContain("(+0.55 from its candidates' head-to-head record)");
    expect(d.candidates[0]!.score - d.candidates[1]!.score).toBeCloseTo(0.5 * Math.log(3), 6);
  });

  it('weighs nothing at head_to_head_weight 0', () => {
    const even = [3, 3, 3];
    const d = route({ type: 'bugfix', priority: 'P2' }, [agent('a', { rewards: even, headToHead: -1 }), agent('b', { rewards: even })], { ...policy, headToHeadWeight: 0 });
    if (d.kind !== 'assigned') throw new Error('assigned');
    expect(d.candidates[0]!.score).toBe(d.candidates[1]!.score);
  });
});
