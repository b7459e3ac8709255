/** The routing book over a real store: loaded once, then kept in step by tailing what the store stamps. */
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { RoutingBook } from '../../src/routing/book.js';
import { policyFrom, route } from '../../src/routing/router.js';
import { syncAgents } from '../../src/store/agents.js';
import { newAssignment } from '../../src/store/assignments.js';
import type { Database, TaskRow } from '../../src/store/schema.js';
import { suspendAgent } from '../../src/tiers/service.js';
import { backends } from '../helpers/stores.js';
import { addTask, shippedAgents, shippedConfig } from '../tiers/fixtures.js';

for (const backend of backends) {
  describe(`RoutingBook on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    let db: Kysely<Database>;
    let config: Config;

    beforeEach(async () => {
      store = await backend.open();
      db = store.db;
      await syncAgents(db, shippedAgents());
      config = shippedConfig();
    });
    afterEach(async () => {
      await store.dispose();
    });

    async function settled(agent: string, task: TaskRow, reward: number, at: string, kind: 'final' | 'provisional' = 'final') {
      await db
        .insertInto('rewards')
        .values({
          task_id: task.id,
          assignment_id: null,
          agent_name: agent,
          reward,
          components: '{}',
          weights: '{}',
          evaluator_version: 'test',
          hook_duration_ms: 0,
          kind,
          degraded: 0,
          mr_number: null,
          mr_state: null,
          created_at: at,
          updated_at: at,
          settled_at: kind === 'final' ? at : null,
        })
        .execute();
    }

    async function failedRun(agent: string, task: TaskRow, at: string, countsAgainst = 1) {
      await db
        .insertInto('assignments')
        .values({ ...newAssignment(task.id, agent, '[]'), status: 'failed', assigned_at: at, finished_at: at, counts_against: countsAgainst })
        .execute();
    }

    const long = '2025-01-01T00:00:00.000Z';

    it('loads every settled outcome per (agent, type): rewards, failed runs at the failed-run reward, not provisional ones', async () => {
      const bug = await addTask(db, { type: 'bugfix' });
      const feat = await addTask(db, { type: 'feature' });
      await settled('agent-principal', bug, 4, long);
      await settled('agent-principal', bug, 5, long);
      await settled('agent-principal', feat, 2, long);
      await settled('agent-principal', feat, -5, long, 'provisional');
      await failedRun('agent-principal', feat, long);
      await failedRun('agent-principal', feat, long, 0); // cancelled or interrupted: not the agent's doing
      config.routing.failed_run_reward = -1;

      const book = await RoutingBook.load(db, config);
      const a = book.get('agent-principal')!;
      expect(a.outcomes).toEqual({ n: 4, sum: 10, sumSq: 46 });
      expect(a.byType!.bugfix).toEqual({ n: 2, sum: 9, sumSq: 41 });
      expect(a.byType!.feature).toEqual({ n: 2, sum: 1, sumSq: 5 });
      expect(book.fleetMean()).toBe(2.5);
      expect(book.size).toBe(9);
      expect(book.candidates('security').map((x) => x.name).sort()).toEqual(['agent-principal', 'agent-security-junior', 'agent-security-senior']);
    });

    it('catches up on outcomes settled since, once each, also when they land late within the lag', async () => {
      const bug = await addTask(db, { type: 'bugfix' });
      let now = Date.parse('2026-03-01T12:00:00.000Z');
      const book = await RoutingBook.load(db, config, { clock: () => now, lagMs: 5_000 });
      expect(book.get('agent-bugfix-senior')!.outcomes.n).toBe(0);

      await settled('agent-bugfix-senior', bug, 3, new Date(now - 1_000).toISOString());
      await book.catchUp(db);
      await book.catchUp(db);
      expect(book.get('agent-bugfix-senior')!.outcomes).toEqual({ n: 1, sum: 3, sumSq: 9 });

      now += 60_000;
      await settled('agent-bugfix-senior', bug, 1, new Date(now).toISOString());
      await book.catchUp(db);
      // Stamped before the last outcome seen, committed after it: inside the lag, it still counts.
      await settled('agent-bugfix-senior', bug, 2, new Date(now - 2_000).toISOString());
      await failedRun('agent-bugfix-senior', bug, new Date(now).toISOString());
      await book.catchUp(db);
      expect(book.get('agent-bugfix-senior')!.outcomes).toEqual({ n: 4, sum: 6, sumSq: 14 });
      expect(book.get('agent-bugfix-senior')!.byType!.bugfix!.n).toBe(4);
    });

    it('follows agent rows (a tier change, a sync) and the load, with no re-read of what did not change', async () => {
      const book = await RoutingBook.load(db, config);
      await suspendAgent(db, 'agent-feature-senior', { actor: 'alice' });
      const task = await addTask(db, { type: 'bugfix' });
      await db.insertInto('assignments').values({ ...newAssignment(task.id, 'agent-bugfix-junior', '[]'), assigned_at: new Date().toISOString() }).execute();
      const tagged = shippedAgents().map((a) => (a.name === 'agent-refactor-junior' ? { ...a, tags: ['api'] } : a));
      await syncAgents(db, tagged.filter((a) => a.name !== 'agent-security-junior'));
      await book.catchUp(db);

      expect(book.get('agent-feature-senior')).toMatchObject({ tier: 'suspended', manualSuspension: true });
      expect(book.get('agent-bugfix-junior')!.load).toBe(1);
      expect(book.get('agent-refactor-junior')!.tags).toEqual(['api']);
      expect(book.get('agent-security-junior')!.active).toBe(false);
      expect(book.candidates('security').map((a) => a.name).sort()).toEqual(['agent-principal', 'agent-security-senior']);
    });

    it('is what the router decides from', async () => {
      const bug = await addTask(db, { type: 'bugfix' });
      for (let i = 0; i < 10; i++) await settled('agent-bugfix-junior', bug, 4.5, long);
      for (let i = 0; i < 10; i++) await settled('agent-bugfix-senior', bug, 1, long);
      const book = await RoutingBook.load(db, config);
      const d = route({ type: 'bugfix', priority: 'P2' }, book.candidates('bugfix'), policyFrom(config, { now: Date.now(), rng: Math.random, fleetMean: book.fleetMean() }));
      expect(d).toMatchObject({ kind: 'assigned', agent: 'agent-bugfix-junior' });
    });

    it('carries each agent\'s head-to-head strength from the pipeline\'s pairs, refitted when a pair is added', async () => {
      const bug = await addTask(db, { type: 'bugfix' });
      let attempt = 0;
      const pair = (winner: string, loser: string) =>
        db.insertInto('pipeline_pairs').values({ assignment_id: ++attempt, task_id: bug.id, winner_idx: 0, loser_idx: 1, winner_agent: winner, loser_agent: loser, reason: 'oracle', created_at: long });
      const book = await RoutingBook.load(db, config);
      expect(book.get('agent-bugfix-senior')!.headToHead).toBe(0);
      await pair('agent-bugfix-senior', 'agent-bugfix-junior').execute();
      await book.catchUp(db);
      const senior = book.get('agent-bugfix-senior')!.headToHead!;
      const junior = book.get('agent-bugfix-junior')!.headToHead!;
      // One win each way against the virtual average, plus the real one: the winner above 0, the loser below.
      expect(senior).toBeGreaterThan(0);
      expect(junior).toBeCloseTo(-senior, 9);
      await pair('agent-bugfix-junior', 'agent-bugfix-senior').execute();
      await book.catchUp(db);
      expect(book.get('agent-bugfix-senior')!.headToHead).toBeCloseTo(0, 9);
    });
  });
}
