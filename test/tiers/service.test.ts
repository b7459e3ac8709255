import { noEvents } from '../../src/events.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { RewardComponents } from '../../src/rewards/formula.js';
import { recordManualReward, RewardError } from '../../src/rewards/manual.js';
import { getAgent } from '../../src/store/agents.js';
import { newAssignment } from '../../src/store/assignments.js';
import { saveAttemptReward } from '../../src/store/rewards.js';
import type { Database } from '../../src/store/schema.js';
import { recomputeAllTiers } from '../../src/tiers/recompute.js';
import { parseOverride, promoteAgent, recomputeAgent, suspendAgent, TierError } from '../../src/tiers/service.js';
import type { Kysely } from 'kysely';
import { addTask, freshStore, shippedConfig, type TestStore } from './fixtures.js';
import { neutral, perfect } from '../helpers/components.js';

/** With the seed weights: perfect +5, decent +2.5, neutral 0, worst -2.5. */
const decent: RewardComponents = { ...neutral, lint_score: 1, security_scan_score: 1, ci_pipeline_status: 1 };
const worst: RewardComponents = { ...neutral, test_coverage_delta: -1, code_complexity_delta: -1, review_feedback_score: -1 };

let store: TestStore;
let db: Kysely<Database>;
let config: Config;
/** Store timestamps come from Date; each step moves the clock one second on, so order is exact. */
let clock = Date.parse('2025-08-12T10:00:00.000Z');
const tick = () => {
  clock += 1000;
  vi.setSystemTime(clock);
};

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  tick();
  store = await freshStore();
  db = store.db;
  config = shippedConfig();
});
afterEach(async () => {
  await store.dispose();
  vi.useRealTimers();
});

const history = (agent: string) =>
  db.selectFrom('tier_history').selectAll().where('agent_name', '=', agent).orderBy('id').execute();
const auditOf = (agent: string) =>
  db.selectFrom('audit_log').selectAll().where('agent_name', '=', agent).orderBy('id').execute();

async function reward(agent: string, components: RewardComponents) {
  tick();
  const task = await addTask(db);
  tick();
  return recordManualReward(db, config, { taskId: task.id, agent, components, actor: 'alice' }, noEvents);
}

describe('promoteAgent', () => {
  it('moves an agent one tier up and records why in tier history and the audit log', async () => {
    const agent = await promoteAgent(db, 'agent-bugfix-junior', { actor: 'alice' });
    expect(agent.tier).toBe('senior');
    expect(agent.manual_override).toBe(`promoted@${new Date(clock).toISOString()}`);
    expect(parseOverride(agent)).toEqual({ kind: 'promoted', since: new Date(clock).toISOString() });

    const rows = await history('agent-bugfix-junior');
    expect(rows.map((r) => [r.from_tier, r.to_tier, r.source, r.reason])).toEqual([
      ['junior', 'junior', 'config', 'initial tier from the agent file'],
      ['junior', 'senior', 'manual', 'promoted by alice'],
    ]);
    const log = await auditOf('agent-bugfix-junior');
    expect(log.map((e) => [e.event, e.actor])).toEqual([
      ['agent.tier_changed', 'alice'],
      ['agent.promoted', 'alice'],
    ]);
    expect(JSON.parse(log[0]!.data)).toEqual({ from: 'junior', to: 'senior', reason: 'promoted by alice', source: 'manual', rolling_avg: 0 });
    expect(JSON.parse(log[1]!.data)).toEqual({ to: 'senior', reason: 'promoted by alice' });
  });

  it('promotes to a given tier with a given reason', async () => {
    const agent = await promoteAgent(db, 'agent-feature-junior', { to: 'principal', reason: 'proved itself on the migration', actor: 'bob' });
    expect(agent.tier).toBe('principal');
    const last = (await history('agent-feature-junior')).at(-1)!;
    expect([last.from_tier, last.to_tier, last.reason]).toEqual(['junior', 'principal', 'proved itself on the migration']);
  });

  it('refuses an agent that is already principal', async () => {
    await expect(promoteAgent(db, 'agent-principal', { actor: 'alice' })).rejects.toThrow(
      new TierError('agent "agent-principal" is already principal; there is no tier above'),
    );
    expect((await history('agent-principal')).length).toBe(1);
  });

  it('refuses an unknown agent', async () => {
    await expect(promoteAgent(db, 'agent-nobody', { actor: 'alice' })).rejects.toThrow(TierError);
    await expect(promoteAgent(db, 'agent-nobody', { actor: 'alice' })).rejects.toThrow('agent "agent-nobody" does not exist');
  });

  it('refuses a "promotion" that does not move the agent up, and suspension through promote', async () => {
    await expect(promoteAgent(db, 'agent-bugfix-senior', { to: 'junior', actor: 'alice' })).rejects.toThrow(
      'agent "agent-bugfix-senior" is senior; promoting to junior would not move it up',
    );
    await expect(promoteAgent(db, 'agent-bugfix-senior', { to: 'senior', actor: 'alice' })).rejects.toThrow('would not move it up');
    await expect(promoteAgent(db, 'agent-bugfix-senior', { to: 'suspended', actor: 'alice' })).rejects.toThrow(
      'use "doom agents suspend" to suspend an agent',
    );
    expect((await getAgent(db, 'agent-bugfix-senior'))!.tier).toBe('senior');
  });
});

describe('suspendAgent', () => {
  it('suspends with a reason, in tier history and the audit log', async () => {
    const agent = await suspendAgent(db, 'agent-bugfix-senior', { reason: 'pushed secrets', actor: 'alice' });
    expect(agent.tier).toBe('suspended');
    expect(parseOverride(agent)).toEqual({ kind: 'suspended', since: new Date(clock).toISOString() });
    const last = (await history('agent-bugfix-senior')).at(-1)!;
    expect([last.from_tier, last.to_tier, last.source, last.reason]).toEqual(['senior', 'suspended', 'manual', 'pushed secrets']);
    const log = await auditOf('agent-bugfix-senior');
    expect(log.map((e) => e.event)).toEqual(['agent.tier_changed', 'agent.suspended']);
    expect(JSON.parse(log[1]!.data)).toEqual({ reason: 'pushed secrets' });
  });

  it('has a default reason and refuses an unknown agent', async () => {
    await suspendAgent(db, 'agent-principal', { actor: 'cli' });
    expect((await history('agent-principal')).at(-1)!.reason).toBe('suspended by cli');
    await expect(suspendAgent(db, 'ghost', { actor: 'cli' })).rejects.toThrow('agent "ghost" does not exist');
  });

  it('stays suspended after great rewards until an operator promotes it; then rewards decide', async () => {
    await suspendAgent(db, 'agent-security-junior', { reason: 'manual hold', actor: 'alice' });
    for (let i = 0; i < 3; i++) {
      const r = await reward('agent-security-junior', perfect);
      expect(r.tier).toBe('suspended');
      expect(r.tierChanged).toBe(false);
    }
    let agent = (await getAgent(db, 'agent-security-junior'))!;
    expect(agent.tier).toBe('suspended');
    expect(agent.rolling_avg).toBe(5);
    expect(parseOverride(agent)?.kind).toBe('suspended');

    tick();
    agent = await promoteAgent(db, 'agent-security-junior', { actor: 'alice' });
    expect(agent.tier).toBe('junior');
    expect(parseOverride(agent)?.kind).toBe('promoted');

    const r = await reward('agent-security-junior', perfect);
    expect(r.tier).toBe('principal');
    expect(r.tierChanged).toBe(true);
    agent = (await getAgent(db, 'agent-security-junior'))!;
    expect(agent.manual_override).toBeNull();
    expect((await history('agent-security-junior')).map((h) => `${h.from_tier}->${h.to_tier}:${h.source}`)).toEqual([
      'junior->junior:config',
      'junior->suspended:manual',
      'suspended->junior:manual',
      'junior->principal:manual-reward',
    ]);
  });
});

describe('a promotion and a reward settled in the same millisecond', () => {
  it('count the reward as before the promotion, the same in the live and the nightly recompute', async () => {
    // Five: rewards do not suspend on fewer (suspension_min_rewards).
    for (let i = 0; i < 5; i++) await reward('agent-bugfix-junior', worst);
    expect((await getAgent(db, 'agent-bugfix-junior'))!.tier).toBe('suspended');
    tick();
    await promoteAgent(db, 'agent-bugfix-junior', { to: 'senior', actor: 'alice' });
    // The clock does not move: this reward settles in the promotion's millisecond.
    const task = await addTask(db);
    const same = await recordManualReward(db, config, { taskId: task.id, agent: 'agent-bugfix-junior', components: worst, actor: 'bob' }, noEvents);
    expect(same.reward.settled_at).toBe(new Date(clock).toISOString());
    expect(same).toMatchObject({ tier: 'senior', tierChanged: false });
    expect((await recomputeAllTiers(db, config, { source: 'nightly', actor: 'scheduler' })).changed).toEqual([]);
    expect((await getAgent(db, 'agent-bugfix-junior'))!).toMatchObject({ tier: 'senior', rolling_avg: -2.5 });

    // One millisecond later is after it: the rewards decide again.
    clock += 1;
    vi.setSystemTime(clock);
    const later = await recordManualReward(db, config, { taskId: (await addTask(db)).id, agent: 'agent-bugfix-junior', components: worst, actor: 'bob' }, noEvents);
    expect(later).toMatchObject({ tier: 'suspended', tierChanged: true });
  });
});

describe('recomputeAgent with manual rewards', () => {
  it('moves an agent up on its lower bound and down on its upper bound, with the margin in between', async () => {
    const name = 'agent-bugfix-junior';
    // Bounds: mean ± 1.645 standard errors, σ pulled toward 1.5 by two pseudo-rewards.
    const steps: [RewardComponents, string, number][] = [
      [perfect, 'senior', 5], // 5.00 ± 2.01: lower bound 2.99 clears 2
      [perfect, 'senior', 5], // 5.00 ± 1.23: 3.77 does not clear 4
      [perfect, 'principal', 5], // 5.00 ± 0.90: 4.10 clears 4
      [perfect, 'principal', 5],
      [worst, 'principal', 3.5], // 3.50 ± 1.96: the upper bound 5.46 is far from 3.75
      [worst, 'principal', 2.5],
      [worst, 'principal', 1.7857],
      [worst, 'senior', 1.25], // 1.25 ± 1.99: upper bound 3.24 under 4 − 0.25
      [worst, 'senior', 0.8333],
      [worst, 'senior', 0.5],
      [worst, 'senior', -0.25],
      [worst, 'junior', -1], // 0.00 ± 1.58: upper bound 1.58 under 2 − 0.25
    ];
    for (const [components, tier, avg] of steps) {
      const r = await reward(name, components);
      expect([r.tier, (await getAgent(db, name))!.rolling_avg]).toEqual([tier, avg]);
    }
    const rows = await history(name);
    expect(rows.map((h) => `${h.from_tier}->${h.to_tier}`)).toEqual([
      'junior->junior',
      'junior->senior',
      'senior->principal',
      'principal->senior',
      'senior->junior',
    ]);
    expect(rows.slice(1).every((h) => h.source === 'manual-reward')).toBe(true);
    expect(rows[2]!.reason).toBe('mean 5.00 ± 0.90 (n=3): lower bound 4.10 clears 4.00 → principal');
    expect(rows[3]!.reason).toBe('mean 1.25 ± 1.99 (n=8): upper bound 3.24 under 3.75 (principal less the 0.25 margin) → senior');
    expect(rows[2]!.rolling_avg).toBe(5);

    const events = (await auditOf(name)).map((e) => e.event);
    expect(events.filter((e) => e === 'reward.recorded')).toHaveLength(12);
    expect(events.filter((e) => e === 'agent.tier_changed')).toHaveLength(4);
  });

  it('does not suspend on fewer than suspension_min_rewards outcomes, then does', async () => {
    const name = 'agent-refactor-junior';
    for (let i = 0; i < 4; i++) expect((await reward(name, worst)).tier).toBe('junior');
    const r = await reward(name, worst);
    expect(r).toMatchObject({ tier: 'suspended', tierChanged: true });
    expect((await history(name)).at(-1)!.reason).toBe('mean -2.50 ± 0.59 (n=5): upper bound -1.91 under -0.25 (junior less the 0.25 margin) → suspended');
  });

  it('keeps the evaluation window for the rolling average; the tier reads every outcome', async () => {
    config.tiers.evaluation_window = 3;
    for (const c of [worst, worst, perfect, perfect]) await reward('agent-refactor-junior', c);
    const r = await reward('agent-refactor-junior', perfect);
    // The two bad rewards left the window but not the record: 2.00 ± 2.36 keeps it junior.
    expect(r.tier).toBe('junior');
    expect((await getAgent(db, 'agent-refactor-junior'))!.rolling_avg).toBe(5);
  });

  it('keeps a manual promotion until a newer reward, then lets it decide', async () => {
    const name = 'agent-feature-junior';
    await reward(name, neutral);
    tick();
    await promoteAgent(db, name, { actor: 'alice' });
    tick();
    const held = await recomputeAgent(db, config, name, 'nightly');
    expect(held.changed).toBe(false);
    expect(held.agent.tier).toBe('senior');
    expect(held.decision.reason).toMatch(/^manual promotion since .* holds until the next reward$/);
    expect(parseOverride(held.agent)?.kind).toBe('promoted');

    const r = await reward(name, neutral);
    expect(r.tier).toBe('junior');
    expect(r.tierChanged).toBe(true);
    expect((await getAgent(db, name))!.manual_override).toBeNull();
  });

  it('is a no-op without rewards, and writes no history when nothing changes', async () => {
    const r = await recomputeAgent(db, config, 'agent-bugfix-senior', 'nightly');
    expect(r.changed).toBe(false);
    expect(r.agent.tier).toBe('senior');
    expect(r.decision.reason).toBe('no settled outcomes yet');
    expect(await history('agent-bugfix-senior')).toHaveLength(1);
    expect(await auditOf('agent-bugfix-senior')).toEqual([]);
  });

  it('ignores provisional rewards', async () => {
    const task = await addTask(db);
    await db
      .insertInto('rewards')
      .values({
        task_id: task.id,
        agent_name: 'agent-bugfix-senior',
        reward: -5,
        components: '{}',
        weights: '{}',
        evaluator_version: 'test',
        hook_duration_ms: 0,
        kind: 'provisional',
        degraded: 0,
        created_at: new Date(clock).toISOString(),
        updated_at: new Date(clock).toISOString(),
      })
      .execute();
    const r = await recomputeAgent(db, config, 'agent-bugfix-senior', 'rewards');
    expect(r.agent.tier).toBe('senior');
    expect(r.decision.reason).toBe('no settled outcomes yet');
  });

  it('rejects an unknown agent', async () => {
    await expect(recomputeAgent(db, config, 'ghost', 'nightly')).rejects.toThrow(new TierError('agent "ghost" does not exist'));
  });
});

describe('recordManualReward', () => {
  it('stores the reward with its components and weights', async () => {
    const r = await reward('agent-principal', decent);
    expect(r.reward.reward).toBe(2.5);
    expect(r.reward.kind).toBe('manual');
    expect(JSON.parse(r.reward.components)).toEqual(decent);
    expect(JSON.parse(r.reward.weights)).toEqual(config.evaluator.weights);
    // One reward of 2.5 does not demote a principal: 2.50 ± 2.01 reaches above 4 − 0.25.
    expect(r.tier).toBe('principal');
    const [entry] = (await auditOf('agent-principal')).filter((e) => e.event === 'reward.recorded');
    expect(entry!.actor).toBe('alice');
    expect(JSON.parse(entry!.data)).toMatchObject({ reward: 2.5, kind: 'manual' });
  });

  it("settles the agent's attempt, and never replaces a settled reward", async () => {
    const task = await addTask(db);
    const attempt = await db
      .insertInto('assignments')
      .values({ ...newAssignment(task.id, 'agent-principal', '[]'), status: 'completed', mr_number: 3 })
      .returningAll()
      .executeTakeFirstOrThrow();
    const provisional = await saveAttemptReward(
      db,
      { taskId: task.id, assignmentId: attempt.id, agentName: 'agent-principal' },
      { reward: 1, components: {}, weights: {}, evaluatorVersion: 'test', hookDurationMs: 0, kind: 'provisional', degraded: false, mrNumber: 3, mrState: 'open' },
    );
    tick();
    const manual = await recordManualReward(db, config, { taskId: task.id, agent: 'agent-principal', components: worst, actor: 'a' }, noEvents);
    expect(manual.reward).toMatchObject({ id: provisional.row!.id, assignment_id: attempt.id, kind: 'manual', reward: -2.5 });
    expect(manual.reward.settled_at).not.toBeNull();
    tick();
    await expect(recordManualReward(db, config, { taskId: task.id, agent: 'agent-principal', components: perfect, actor: 'a' }, noEvents)).rejects.toThrow(
      new RewardError(`task ${task.id} already has a manual reward -2.50 for agent-principal (attempt ${attempt.id}); a settled reward is not replaced`),
    );
    const rows = await db.selectFrom('rewards').selectAll().where('agent_name', '=', 'agent-principal').execute();
    expect(rows).toEqual([manual.reward]);
    expect((await getAgent(db, 'agent-principal'))!.rolling_avg).toBe(-2.5);
  });

  it('refuses an unknown task or agent and an out-of-range component, writing nothing', async () => {
    const task = await addTask(db);
    await expect(recordManualReward(db, config, { taskId: 9999, agent: 'agent-principal', components: perfect, actor: 'a' }, noEvents)).rejects.toThrow(
      new RewardError('task 9999 does not exist'),
    );
    await expect(recordManualReward(db, config, { taskId: task.id, agent: 'ghost', components: perfect, actor: 'a' }, noEvents)).rejects.toThrow(
      new RewardError('agent "ghost" does not exist'),
    );
    await expect(
      recordManualReward(db, config, { taskId: task.id, agent: 'agent-principal', components: { ...perfect, ci_pipeline_status: 0.5 }, actor: 'a' }, noEvents),
    ).rejects.toThrow(new RewardError('ci_pipeline_status must be 0 or 1, got 0.5'));
    expect(await db.selectFrom('rewards').selectAll().execute()).toEqual([]);
    expect(await db.selectFrom('audit_log').selectAll().execute()).toEqual([]);
  });
});
