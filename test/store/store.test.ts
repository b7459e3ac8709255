/** The store's queries, on every backend: the same results on SQLite and Postgres. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAgents } from '../../src/config/load.js';
import { newAssignment } from '../../src/store/assignments.js';
import { activeLoad, getAgent, listAgents, syncAgents } from '../../src/store/agents.js';
import { audit, auditEntries } from '../../src/store/audit.js';
import { failedHookCounts, hookEventsOf, recordHookEvents } from '../../src/store/hook-events.js';
import { claimDue, deliveryCounts, insertDeliveries, markDone, markFailed, pruneDeliveries, requeueInterrupted } from '../../src/store/deliveries.js';
import { openStore } from '../../src/store/db.js';
import { rewardOfAttempt, rewardsOf, saveAttemptReward, settledRewards, successRates } from '../../src/store/rewards.js';
import { endedRunsWithTier } from '../../src/store/stats.js';
import { findTaskByIssue, insertTask, listTasks, taskCounts, updateTask } from '../../src/store/tasks.js';
import { repoRoot } from '../helpers/app.js';
import { backends } from '../helpers/stores.js';
import { newTask } from '../helpers/tasks.js';

const agents = loadAgents(join(repoRoot, 'config/agents'));

for (const backend of backends) {
  describe(`store on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    beforeEach(async () => {
      store = await backend.open();
    });
    afterEach(async () => {
      await store.dispose();
    });

    it('stores a delivery once per forge and delivery id', async () => {
      const d = { forge: 'github', deliveryId: 'abc', event: 'issues', body: '{}' };
      const first = await insertDeliveries(store.db, [d, { ...d, forge: 'gitlab' }]);
      expect(first.size).toBe(2);
      const again = await insertDeliveries(store.db, [d, { ...d, deliveryId: 'def' }]);
      expect([...again]).toEqual(['github\u0000def']);
      expect(await deliveryCounts(store.db)).toEqual({ pending: 3 });
    });

    it('claims each due delivery once, requeues interrupted ones, retries and fails them', async () => {
      await insertDeliveries(
        store.db,
        ['a', 'b', 'c'].map((id) => ({ forge: 'github', deliveryId: id, event: 'issues', body: '{}' })),
      );
      // Two workers racing for the same rows never both get one.
      const [one, two] = await Promise.all([claimDue(store.db, 2), claimDue(store.db, 2)]);
      const rest = await claimDue(store.db, 5);
      const claimed = [...one!, ...two!, ...rest].map((d) => d.delivery_id).sort();
      expect(claimed).toEqual(['a', 'b', 'c']);
      expect([...one!, ...two!, ...rest].every((d) => d.attempts === 1 && d.status === 'processing')).toBe(true);
      expect(await claimDue(store.db, 5)).toEqual([]);

      expect(await requeueInterrupted(store.db)).toBe(3);
      const again = await claimDue(store.db, 5);
      expect(again.map((d) => d.attempts)).toEqual([2, 2, 2]);
      await markDone(store.db, again[0]!.id);
      await markFailed(store.db, again[1]!.id, 'boom', 60_000);
      await markFailed(store.db, again[2]!.id, 'for good', null);
      expect(await deliveryCounts(store.db)).toEqual({ done: 1, pending: 1, failed: 1 });
      // The retry is not due for a minute.
      expect(await claimDue(store.db, 5)).toEqual([]);
      const failed = await store.db.selectFrom('webhook_deliveries').selectAll().where('status', '=', 'failed').execute();
      expect(failed[0]).toMatchObject({ last_error: 'for good', delivery_id: 'c' });
      expect(await pruneDeliveries(store.db, 1)).toBe(0); // received just now: nothing is old enough
      await store.db.updateTable('webhook_deliveries').set({ received_at: '2020-01-01T00:00:00.000Z' }).execute();
      // Only processed deliveries go; failed ones stay for an operator to look at.
      expect(await pruneDeliveries(store.db, 1)).toBe(1);
      expect(await deliveryCounts(store.db)).toEqual({ pending: 1, failed: 1 });
    });

    it('keeps one task per issue and round-trips forge ids beyond 32 bits', async () => {
      const { task, created } = await insertTask(store.db, newTask({ comment_id: 2_500_000_123 }));
      expect(created).toBe(true);
      expect(task.comment_id).toBe(2_500_000_123);
      const again = await insertTask(store.db, newTask({ title: 'other' }));
      expect(again).toMatchObject({ created: false, task: { id: task.id, title: 'Spelling error in the README file' } });
      const found = await findTaskByIssue(store.db, { forge: 'github', repoId: 186853002, issueNumber: 1 });
      expect(found?.id).toBe(task.id);
      const updated = await updateTask(store.db, task.id, { status: 'assigned', assigned_agent: 'agent-principal' });
      expect(updated.status).toBe('assigned');
      await insertTask(store.db, newTask({ issue_number: 2 }));
      expect(await taskCounts(store.db)).toEqual({ assigned: 1, pending: 1 });
      expect((await listTasks(store.db, { status: 'pending' })).map((t) => t.issue_number)).toEqual([2]);
      await expect(updateTask(store.db, 999, { status: 'failed' })).rejects.toThrow('task 999 does not exist');
    });

    it('syncs agents from files, keeping earned tiers and retiring removed files', async () => {
      expect((await syncAgents(store.db, agents)).added).toHaveLength(9);
      await store.db.updateTable('agents').set({ tier: 'principal', rolling_avg: 4.5 }).where('name', '=', 'agent-bugfix-junior').execute();
      const fewer = agents.filter((a) => a.name !== 'agent-refactor-junior');
      expect((await syncAgents(store.db, fewer)).added).toEqual([]);
      expect(await getAgent(store.db, 'agent-bugfix-junior')).toMatchObject({ tier: 'principal', rolling_avg: 4.5, active: 1 });
      expect((await listAgents(store.db)).map((a) => a.name)).not.toContain('agent-refactor-junior');
      expect(await getAgent(store.db, 'agent-refactor-junior')).toMatchObject({ active: 0 });
      expect(await listAgents(store.db, { tier: 'principal' })).toHaveLength(2);
      const history = await store.db.selectFrom('tier_history').selectAll().execute();
      expect(history).toHaveLength(9);
    });

    it('counts load from open assignments', async () => {
      await syncAgents(store.db, agents);
      const { task } = await insertTask(store.db, newTask());
      const assignment = newAssignment(task.id, 'agent-principal', '[]');
      await store.db.insertInto('assignments').values([
        { ...assignment, status: 'assigned' },
        { ...assignment, status: 'in_progress' },
        { ...assignment, status: 'completed' },
      ]).execute();
      expect(await activeLoad(store.db)).toEqual(new Map([['agent-principal', 2]]));
    });

    it('gives each ended run the tier its TaskStart recorded, else its agent\'s tier now, once per run', async () => {
      await syncAgents(store.db, agents);
      const { task } = await insertTask(store.db, newTask());
      const run = (outcome: string | null) => ({ ...newAssignment(task.id, 'agent-bugfix-junior', '[]'), status: 'completed' as const, outcome });
      const [a, b] = await store.db.insertInto('assignments').values([run('success'), run('timeout'), run(null)]).returning('id').execute();
      // Run a started twice (a re-run after an interruption) as a senior: its first start counts.
      await recordHookEvents(store.db, [
        { type: 'TaskStart', taskId: task.id, runId: a!.id, agentName: 'agent-bugfix-junior', payload: { tier: 'senior' } },
        { type: 'TaskStart', taskId: task.id, runId: a!.id, agentName: 'agent-bugfix-junior', payload: { tier: 'principal' } },
        { type: 'TaskComplete', taskId: task.id, runId: b!.id, agentName: 'agent-bugfix-junior', payload: { tier: 'principal' } },
      ]);
      expect(await endedRunsWithTier(store.db)).toEqual([
        { outcome: 'success', tier: 'senior' },
        { outcome: 'timeout', tier: 'junior' },
      ]);
    });

    /** A task with `n` attempts by agent-principal, each published on its own MR. */
    async function attempts(n: number, issueNumber = 1) {
      await syncAgents(store.db, agents);
      const { task } = await insertTask(store.db, newTask({ issue_number: issueNumber }));
      const rows = [];
      for (let i = 0; i < n; i++) {
        const row = await store.db
          .insertInto('assignments')
          .values({ ...newAssignment(task.id, 'agent-principal', '[]'), status: 'completed', mr_number: 10 + i })
          .returningAll()
          .executeTakeFirstOrThrow();
        rows.push(row);
      }
      return { task, attempts: rows };
    }
    const values = {
      reward: 1.5,
      components: { ci_pipeline_status: 1 },
      weights: { ci_status: 0.1 },
      evaluatorVersion: '1.0.0',
      hookDurationMs: 3.7,
      kind: 'provisional' as const,
      degraded: false,
      mrNumber: 10,
      mrState: 'open' as const,
    };

    it('keeps one reward per attempt, settles it once and writes nothing for an unchanged evaluation', async () => {
      const { task, attempts: [first, second] } = await attempts(2);
      const ref = { taskId: task.id, assignmentId: first!.id, agentName: 'agent-principal' };
      const inserted = await saveAttemptReward(store.db, ref, values);
      expect(inserted.decision).toEqual({ kind: 'insert', settles: false });
      expect(inserted.row).toMatchObject({ assignment_id: first!.id, kind: 'provisional', settled_at: null, hook_duration_ms: 4 });

      // The same evaluation again (another hook duration): nothing written, not even updated_at.
      const again = await saveAttemptReward(store.db, ref, { ...values, hookDurationMs: 99 });
      expect(again.decision).toEqual({ kind: 'unchanged' });
      expect(await rewardOfAttempt(store.db, ref)).toEqual(inserted.row);
      expect(await settledRewards(store.db, 'agent-principal')).toEqual([]);

      const final = await saveAttemptReward(store.db, ref, { ...values, reward: 3.25, kind: 'final', degraded: true, mrState: 'merged' });
      expect(final.decision).toEqual({ kind: 'update', settles: true });
      expect(final.row).toMatchObject({ reward: 3.25, kind: 'final', degraded: 1, mr_state: 'merged' });
      expect(final.row!.settled_at).toBe(final.row!.updated_at);

      // Later events on the merged MR: the final row stands, whatever they say.
      for (const late of [{ ...values, reward: 3.25, kind: 'final' as const, degraded: true, mrState: 'merged' as const }, { ...values, reward: 1.85, kind: 'final' as const, mrState: 'merged' as const }]) {
        const saved = await saveAttemptReward(store.db, ref, late);
        expect(saved.decision).toEqual({ kind: 'settled', differs: late.reward !== 3.25 });
        expect(await rewardOfAttempt(store.db, ref)).toEqual(final.row);
      }

      // The task's next attempt by the same agent gets its own row; the first stays.
      const next = await saveAttemptReward(store.db, { ...ref, assignmentId: second!.id }, { ...values, mrNumber: 11, kind: 'final', reward: -1.06, mrState: 'closed' });
      expect(next.decision.kind).toBe('insert');
      const rows = await settledRewards(store.db, 'agent-principal');
      expect(rows.map((r) => [r.assignment_id, r.reward])).toEqual([
        [first!.id, 3.25],
        [second!.id, -1.06],
      ]);
    });

    it('orders the window by settled_at then id, never by updated_at', async () => {
      const { task, attempts: list } = await attempts(3);
      for (const [i, a] of list.entries()) {
        await store.db
          .insertInto('rewards')
          .values({
            task_id: task.id,
            assignment_id: a.id,
            agent_name: 'agent-principal',
            reward: i + 1,
            components: '{}',
            weights: '{}',
            evaluator_version: '1.0.0',
            hook_duration_ms: 0,
            kind: 'final',
            degraded: 0,
            mr_number: a.mr_number,
            mr_state: 'merged',
            created_at: '2025-08-12T10:00:00.000Z',
            // The oldest-settled reward was touched last: that must not move it.
            updated_at: i === 0 ? '2025-08-12T12:00:00.000Z' : '2025-08-12T10:00:00.000Z',
            settled_at: i === 2 ? '2025-08-12T10:00:00.000Z' : '2025-08-12T10:00:01.000Z',
          })
          .execute();
      }
      // Settled: #3 first; #1 and #2 in the same millisecond, then by id.
      expect((await settledRewards(store.db, 'agent-principal')).map((r) => r.reward)).toEqual([3, 1, 2]);
      expect((await settledRewards(store.db, 'agent-principal', 2)).map((r) => r.reward)).toEqual([1, 2]);
      expect((await rewardsOf(store.db, 'agent-principal', 10)).map((r) => r.reward)).toEqual([3, 1, 2]);
    });

    it('counts success as merged final rewards over final rewards', async () => {
      const one = await attempts(1, 1);
      const two = await attempts(2, 2);
      const save = (t: typeof one, i: number, mrState: 'merged' | 'closed' | 'open', kind: 'final' | 'provisional') =>
        saveAttemptReward(store.db, { taskId: t.task.id, assignmentId: t.attempts[i]!.id, agentName: 'agent-principal' }, { ...values, kind, mrState });
      await save(one, 0, 'closed', 'final');
      expect(await successRates(store.db)).toEqual(new Map([['agent-principal', { merged: 0, settled: 1, rate: 0 }]]));
      await save(two, 0, 'merged', 'final');
      await save(two, 1, 'open', 'provisional');
      expect(await successRates(store.db)).toEqual(new Map([['agent-principal', { merged: 1, settled: 2, rate: 0.5 }]]));
    });

    it('records hook events per run in order and counts the failed ones by hook', async () => {
      const run = { taskId: 3, runId: 8, agentName: 'agent-x' };
      await recordHookEvents(store.db, [
        { ...run, type: 'TaskStart', payload: { branch: 'doom/3-x' } },
        { ...run, type: 'PostToolUse', payload: { tool: 'Edit' } },
        { ...run, type: 'TaskComplete', payload: { outcome: 'success' } },
      ]);
      await recordHookEvents(store.db, [{ ...run, type: 'SubagentStop', payload: { evaluated: false }, failed: true }]);
      await recordHookEvents(store.db, [{ ...run, taskId: 4, type: 'SubagentStop', payload: { evaluated: true } }]);
      const events = await hookEventsOf(store.db, { taskId: 3 });
      expect(events.map((e) => [e.type, e.failed])).toEqual([['TaskStart', 0], ['PostToolUse', 0], ['TaskComplete', 0], ['SubagentStop', 1]]);
      expect(JSON.parse(events[1]!.payload)).toEqual({ tool: 'Edit' });
      expect(await failedHookCounts(store.db)).toEqual({ SubagentStop: 1 });
    });

    it('appends to the audit log and reads it back in order, by agent and after an id', async () => {
      await audit(store.db, { event: 'a', actor: 'test', agentName: 'x', data: { n: 1 } });
      await audit(store.db, { event: 'b', actor: 'test', taskId: 7 });
      await audit(store.db, { event: 'c', actor: 'test', agentName: 'x' });
      const all = await auditEntries(store.db, { limit: 2 });
      expect(all.map((e) => e.event)).toEqual(['b', 'c']);
      expect((await auditEntries(store.db, { agent: 'x', limit: 10 })).map((e) => e.event)).toEqual(['a', 'c']);
      expect((await auditEntries(store.db, { afterId: all[0]!.id, limit: 10 })).map((e) => e.event)).toEqual(['c']);
      expect(JSON.parse((await auditEntries(store.db, { agent: 'x', limit: 1 }))[0]!.data)).toEqual({});
    });
  });
}

describe('openStore', () => {
  it('migrates once: opening an existing SQLite file again keeps its data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doom-reopen-'));
    const path = join(dir, 'nested', 'doom.db');
    const first = await openStore(path);
    await insertDeliveries(first.db, [{ forge: 'github', deliveryId: 'x', event: 'ping', body: '{}' }]);
    await first.close();
    const second = await openStore(path);
    expect(await deliveryCounts(second.db)).toEqual({ pending: 1 });
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(process.env.TEST_DATABASE_URL)('migrates a Postgres schema chosen by search_path although another schema has Kysely tables', async () => {
    const url = process.env.TEST_DATABASE_URL!;
    const first = await openStore(url, { schema: 'doom_reg_a' });
    await first.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('drop schema if exists doom_reg_b cascade; create schema doom_reg_b');
    const viaPath = new URL(url);
    viaPath.searchParams.set('options', '-c search_path=doom_reg_b');
    const second = await openStore(viaPath.toString());
    expect(await deliveryCounts(second.db)).toEqual({});
    await second.close();
    await admin.query('drop schema doom_reg_a cascade; drop schema doom_reg_b cascade');
    await admin.end();
  });

  it('refuses an unsafe Postgres schema name', async () => {
    await expect(openStore('postgres://127.0.0.1:1/none', { schema: 'bad-name' })).rejects.toThrow('invalid Postgres schema name');
  });
});
