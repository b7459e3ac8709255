/** The set-based tier recompute, on every store backend. */
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { getAgent, syncAgents } from '../../src/store/agents.js';
import { settledRewards } from '../../src/store/rewards.js';
import type { Database, RewardKind } from '../../src/store/schema.js';
import { lastSettledRewards, recomputeAllTiers } from '../../src/tiers/recompute.js';
import { promoteAgent, recomputeAgent, suspendAgent, writeTiers } from '../../src/tiers/service.js';
import { backends } from '../helpers/stores.js';
import { shippedAgents, shippedConfig } from './fixtures.js';

const at = (minute: number) => new Date(Date.UTC(2025, 7, 12, 10, minute)).toISOString();

for (const backend of backends) {
  describe(`recomputeAllTiers on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    let db: Kysely<Database>;
    let config: Config;
    let taskId = 0;

    beforeEach(async () => {
      store = await backend.open();
      db = store.db;
      await syncAgents(db, shippedAgents());
      // This file tests the set-based machinery, not the rule (rules.test.ts, service.test.ts):
      // with zero-width bounds and no margin, a tier is the plain mean of every settled outcome.
      config = shippedConfig();
      config.tiers = { ...config.tiers, confidence: 0, hysteresis: 0, suspension_min_rewards: 1 };
    });
    afterEach(async () => {
      vi.useRealTimers();
      await store.dispose();
    });

    /** Stores a reward as the evaluator would leave it, without recomputing anything. */
    async function reward(agent: string, value: number, minute: number, kind: RewardKind = 'final'): Promise<void> {
      await db
        .insertInto('rewards')
        .values({
          task_id: ++taskId,
          agent_name: agent,
          reward: value,
          components: '{}',
          weights: '{}',
          evaluator_version: 'test',
          hook_duration_ms: 0,
          kind,
          degraded: 0,
          created_at: at(minute),
          updated_at: at(minute),
          settled_at: kind === 'provisional' ? null : at(minute),
        })
        .execute();
    }

    const run = (source: 'nightly' | 'manual' = 'nightly') => recomputeAllTiers(db, config, { source, actor: 'scheduler' });
    const agent = async (name: string) => (await getAgent(db, name))!;
    const history = (name?: string) => {
      let q = db.selectFrom('tier_history').selectAll().where('source', '!=', 'config');
      if (name) q = q.where('agent_name', '=', name);
      return q.orderBy('id').execute();
    };
    const tierAudit = () => db.selectFrom('audit_log').selectAll().where('event', '=', 'agent.tier_changed').orderBy('id').execute();

    it('sets every agent from its rewards, with history and audit for tier changes only', async () => {
      for (const [i, v] of [4, 5, 4.5].entries()) await reward('agent-bugfix-junior', v, i);
      for (const [i, v] of [1, 1.5].entries()) await reward('agent-bugfix-senior', v, 10 + i);
      await reward('agent-feature-junior', 0.5, 20); // stays junior: only the average moves

      const result = await run();
      expect(result.agents).toBe(9);
      expect(result.updated).toBe(3);
      expect(result.changed).toEqual([
        { name: 'agent-bugfix-junior', from: 'junior', to: 'principal', reason: 'mean 4.50 ± 0.00 (n=3): lower bound 4.50 clears 4.00 → principal' },
        { name: 'agent-bugfix-senior', from: 'senior', to: 'junior', reason: 'mean 1.25 ± 0.00 (n=2): upper bound 1.25 under 2.00 (senior less the 0.00 margin) → junior' },
      ]);
      expect(result.durationMs).toBeGreaterThanOrEqual(0);

      expect(await agent('agent-bugfix-junior')).toMatchObject({ tier: 'principal', rolling_avg: 4.5 });
      expect(await agent('agent-bugfix-senior')).toMatchObject({ tier: 'junior', rolling_avg: 1.25 });
      expect(await agent('agent-feature-junior')).toMatchObject({ tier: 'junior', rolling_avg: 0.5 });

      expect((await history()).map((h) => [h.agent_name, h.from_tier, h.to_tier, h.source, h.rolling_avg, h.reason])).toEqual([
        ['agent-bugfix-junior', 'junior', 'principal', 'nightly', 4.5, 'mean 4.50 ± 0.00 (n=3): lower bound 4.50 clears 4.00 → principal'],
        ['agent-bugfix-senior', 'senior', 'junior', 'nightly', 1.25, 'mean 1.25 ± 0.00 (n=2): upper bound 1.25 under 2.00 (senior less the 0.00 margin) → junior'],
      ]);
      const entries = await tierAudit();
      expect(entries.map((e) => [e.agent_name, e.actor])).toEqual([
        ['agent-bugfix-junior', 'scheduler'],
        ['agent-bugfix-senior', 'scheduler'],
      ]);
      expect(JSON.parse(entries[0]!.data)).toEqual({
        from: 'junior',
        to: 'principal',
        reason: 'mean 4.50 ± 0.00 (n=3): lower bound 4.50 clears 4.00 → principal',
        source: 'nightly',
        rolling_avg: 4.5,
      });
    });

    it('repairs drift: a tampered tier or average is put back, and only that is written', async () => {
      for (const [i, v] of [4, 5].entries()) await reward('agent-bugfix-junior', v, i);
      await reward('agent-feature-senior', 3, 5);
      await run();
      const untouched = await agent('agent-principal');

      await db.updateTable('agents').set({ tier: 'junior', rolling_avg: 0 }).where('name', '=', 'agent-bugfix-junior').execute();
      await db.updateTable('agents').set({ rolling_avg: 2.1 }).where('name', '=', 'agent-feature-senior').execute();
      const before = (await history()).length;

      const result = await run('manual');
      expect(result.changed).toEqual([
        { name: 'agent-bugfix-junior', from: 'junior', to: 'principal', reason: 'mean 4.50 ± 0.00 (n=2): lower bound 4.50 clears 4.00 → principal' },
      ]);
      expect(result.updated).toBe(2);
      expect(await agent('agent-bugfix-junior')).toMatchObject({ tier: 'principal', rolling_avg: 4.5 });
      expect(await agent('agent-feature-senior')).toMatchObject({ tier: 'senior', rolling_avg: 3 });
      expect(await agent('agent-principal')).toEqual(untouched);
      const added = (await history()).slice(before);
      expect(added.map((h) => [h.agent_name, h.from_tier, h.to_tier, h.source])).toEqual([['agent-bugfix-junior', 'junior', 'principal', 'manual']]);
    });

    it('is idempotent: a second run changes and writes nothing', async () => {
      for (const [i, v] of [-1, -2].entries()) await reward('agent-refactor-junior', v, i);
      await reward('agent-principal', 1, 3);
      const first = await run();
      expect(first.changed.map((c) => `${c.name}:${c.from}->${c.to}`)).toEqual(['agent-principal:principal->junior', 'agent-refactor-junior:junior->suspended']);
      const rows = await db.selectFrom('agents').selectAll().orderBy('name').execute();
      const [historyRows, auditRows] = [(await history()).length, (await tierAudit()).length];

      const second = await run();
      expect(second).toMatchObject({ agents: 9, changed: [], updated: 0 });
      expect(await db.selectFrom('agents').selectAll().orderBy('name').execute()).toEqual(rows);
      expect((await history()).length).toBe(historyRows);
      expect((await tierAudit()).length).toBe(auditRows);
    });

    it('counts only the last evaluation_window settled rewards in the rolling average, and every one in the tier', async () => {
      config.tiers.evaluation_window = 3;
      for (const [i, v] of [-5, -5, 5, 5, 5].entries()) await reward('agent-bugfix-junior', v, i);
      const result = await run();
      // The window's mean is 5; the record's is 1: junior stays.
      expect(result.changed).toEqual([]);
      expect(await agent('agent-bugfix-junior')).toMatchObject({ tier: 'junior', rolling_avg: 5 });
    });

    it('ignores provisional rewards and counts manual ones', async () => {
      await reward('agent-bugfix-senior', 3, 0, 'final');
      await reward('agent-bugfix-senior', 2, 1, 'manual');
      await reward('agent-bugfix-senior', -5, 2, 'provisional');
      await reward('agent-feature-junior', -5, 3, 'provisional');
      const result = await run();
      expect(result.changed).toEqual([]);
      expect(await agent('agent-bugfix-senior')).toMatchObject({ tier: 'senior', rolling_avg: 2.5 });
      expect(await agent('agent-feature-junior')).toMatchObject({ tier: 'junior', rolling_avg: 0 });
    });

    it('orders rewards with the same time by id, also at the edge of the window', async () => {
      config.tiers.evaluation_window = 2;
      // Newest two by (settled_at, id): 3 and 2. The 1 shares their time but is older by id.
      for (const v of [0, 1, 2, 3]) await reward('agent-bugfix-junior', v, v === 0 ? 0 : 5);
      // One reward fewer than the window: all of it counts.
      await reward('agent-feature-junior', 4, 7);
      const recent = await lastSettledRewards(db, 2);
      expect(recent.get('agent-bugfix-junior')).toEqual([
        { reward: 2, settled_at: at(5) },
        { reward: 3, settled_at: at(5) },
      ]);
      expect(recent.get('agent-feature-junior')).toEqual([{ reward: 4, settled_at: at(7) }]);
      expect(recent.has('agent-principal')).toBe(false);
      // The same rewards the per-agent query picks.
      expect((await settledRewards(db, 'agent-bugfix-junior', 2)).map((r) => r.reward)).toEqual([2, 3]);
      await run();
      expect((await agent('agent-bugfix-junior')).rolling_avg).toBe(2.5);
    });

    it('decides exactly as recomputeAgent does, agent by agent', async () => {
      const names = shippedAgents().map((a) => a.name);
      let seed = 7;
      const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 120; i++) {
        const kind: RewardKind = next() < 0.15 ? 'provisional' : next() < 0.2 ? 'manual' : 'final';
        await reward(names[Math.floor(next() * names.length)]!, Math.round((next() * 10 - 5) * 100) / 100, Math.floor(next() * 50), kind);
      }
      await run();
      const setBased = await db.selectFrom('agents').select(['name', 'tier', 'rolling_avg']).orderBy('name').execute();

      // Put every agent with settled rewards out of line, then let the per-agent path repair them.
      const rated = [...(await lastSettledRewards(db, config.tiers.evaluation_window)).keys()];
      expect(rated.length).toBeGreaterThan(5);
      await db.updateTable('agents').set({ tier: 'junior', rolling_avg: 99 }).where('name', 'in', rated).execute();
      for (const name of names) await recomputeAgent(db, config, name, 'nightly');
      const perAgent = await db.selectFrom('agents').select(['name', 'tier', 'rolling_avg']).orderBy('name').execute();
      expect(perAgent).toEqual(setBased);
    });

    it('keeps a manual suspension whatever the rewards say', async () => {
      await suspendAgent(db, 'agent-security-junior', { reason: 'leaked a token', actor: 'alice' });
      const override = (await agent('agent-security-junior')).manual_override;
      for (const [i, v] of [5, 5, 5].entries()) await reward('agent-security-junior', v, i);
      const result = await run();
      expect(result.changed).toEqual([]);
      expect(await agent('agent-security-junior')).toMatchObject({ tier: 'suspended', rolling_avg: 5, manual_override: override });
      expect((await history('agent-security-junior')).map((h) => h.source)).toEqual(['manual']);
    });

    it('keeps a promotion until a newer settled reward, then lets the rewards decide', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      await reward('agent-feature-junior', 0.5, 0);
      vi.setSystemTime(Date.parse(at(10)));
      await promoteAgent(db, 'agent-feature-junior', { actor: 'alice' });
      const promoted = await agent('agent-feature-junior');
      expect(promoted).toMatchObject({ tier: 'senior', manual_override: `promoted@${at(10)}` });

      let result = await run();
      expect(result.changed).toEqual([]);
      expect(await agent('agent-feature-junior')).toMatchObject({ tier: 'senior', rolling_avg: 0.5, manual_override: `promoted@${at(10)}` });

      await reward('agent-feature-junior', 1.5, 20);
      result = await run();
      expect(result.changed).toEqual([
        { name: 'agent-feature-junior', from: 'senior', to: 'junior', reason: 'mean 1.00 ± 0.00 (n=2): upper bound 1.00 under 2.00 (senior less the 0.00 margin) → junior' },
      ]);
      expect(await agent('agent-feature-junior')).toMatchObject({ tier: 'junior', rolling_avg: 1, manual_override: null });
    });

    it('writes a consumed promotion even when the tier stays', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.parse(at(10)));
      await promoteAgent(db, 'agent-feature-junior', { actor: 'alice' }); // junior -> senior
      await reward('agent-feature-junior', 3, 20); // senior on its own merits
      const result = await run();
      expect(result).toMatchObject({ changed: [], updated: 1 });
      expect(await agent('agent-feature-junior')).toMatchObject({ tier: 'senior', rolling_avg: 3, manual_override: null });
    });

    it('recomputes inactive agents too, and agents beyond one write batch', async () => {
      await syncAgents(db, shippedAgents().filter((a) => a.name !== 'agent-principal'));
      await reward('agent-principal', -3, 0);
      const now = at(0);
      const many = Array.from({ length: 1_205 }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
      for (let i = 0; i < many.length; i += 400) {
        await db
          .insertInto('agents')
          .values(
            many.slice(i, i + 400).map((name) => ({
              name,
              tier: 'junior',
              specializations: '[]',
              max_concurrent_tasks: 1,
              config: '{}',
              rolling_avg: 0,
              total_tasks: 0,
              completed_tasks: 0,
              failed_tasks: 0,
              manual_override: null,
              active: 1,
              created_at: now,
              updated_at: now,
            })),
          )
          .execute();
        await db
          .insertInto('rewards')
          .values(
            many.slice(i, i + 400).map((name, j) => ({
              task_id: 100_000 + i + j,
              agent_name: name,
              reward: (i + j) % 2 === 0 ? 4.5 : 1,
              components: '{}',
              weights: '{}',
              evaluator_version: 'test',
              hook_duration_ms: 0,
              kind: 'final' as const,
              degraded: 0,
              created_at: now,
              updated_at: now,
              settled_at: now,
            })),
          )
          .execute();
      }
      const result = await run();
      expect(result.agents).toBe(9 + many.length);
      expect(result.updated).toBe(1 + many.length);
      expect(result.changed).toHaveLength(1 + Math.ceil(many.length / 2));
      expect(result.changed[0]).toEqual({
        name: 'agent-principal',
        from: 'principal',
        to: 'suspended',
        reason: 'mean -3.00 ± 0.00 (n=1): upper bound -3.00 under 4.00 (principal less the 0.00 margin) → suspended',
      });
      expect(await agent('bulk-1204')).toMatchObject({ tier: 'principal', rolling_avg: 4.5 });
      expect(await agent('bulk-1203')).toMatchObject({ tier: 'junior', rolling_avg: 1 });
      expect((await history()).length).toBe(result.changed.length);
      expect((await tierAudit()).length).toBe(result.changed.length);
      expect((await run()).updated).toBe(0);
    });
  });

  describe(`writeTiers on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    beforeEach(async () => {
      store = await backend.open();
      await syncAgents(store.db, shippedAgents());
    });
    afterEach(async () => {
      await store.dispose();
    });

    it('writes only rows still in the state the decision was made from', async () => {
      const db = store.db;
      const fresh = (await getAgent(db, 'agent-bugfix-junior'))!;
      const moved = (await getAgent(db, 'agent-bugfix-senior'))!;
      // Something else writes agent-bugfix-senior after it was read.
      await db.updateTable('agents').set({ rolling_avg: 1.5 }).where('name', '=', moved.name).execute();

      const next = { tier: 'principal' as const, rollingAvg: 4.2, override: null };
      const { written, stale } = await writeTiers(
        db,
        [
          { agent: fresh, next, reason: 'r1' },
          { agent: moved, next, reason: 'r2' },
        ],
        { source: 'nightly', actor: 'test' },
      );
      expect(written.map((w) => w.agent.name)).toEqual(['agent-bugfix-junior']);
      expect(stale.map((w) => w.agent.name)).toEqual(['agent-bugfix-senior']);
      expect(await getAgent(db, 'agent-bugfix-junior')).toMatchObject({ tier: 'principal', rolling_avg: 4.2 });
      expect(await getAgent(db, 'agent-bugfix-senior')).toMatchObject({ tier: 'senior', rolling_avg: 1.5 });
      const rows = await db.selectFrom('tier_history').select(['agent_name', 'reason']).where('source', '=', 'nightly').execute();
      expect(rows).toEqual([{ agent_name: 'agent-bugfix-junior', reason: 'r1' }]);
    });

    it('does nothing for no writes', async () => {
      expect(await writeTiers(store.db, [], { source: 'nightly', actor: 'test' })).toEqual({ written: [], stale: [] });
    });
  });
}
