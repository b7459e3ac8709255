/** Task and run transitions on every backend: each moves only from its states, all in one step. */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAgents } from '../../src/config/load.js';
import { getAgent, syncAgents } from '../../src/store/agents.js';
import { getTask, insertTask, markIssueSynced, tasksBehindIssue } from '../../src/store/tasks.js';
import {
  assign,
  cancel,
  completeRun,
  dueRuns,
  escalate,
  failRun,
  published,
  publishingTasks,
  release,
  requeue,
  requeueInterruptedRuns,
  startRun,
  unstartedTasksOf,
  type RunUsage,
} from '../../src/store/transitions.js';
import { repoRoot } from '../helpers/app.js';
import { backends } from '../helpers/stores.js';
import { newTask } from '../helpers/tasks.js';

const agents = loadAgents(join(repoRoot, 'config/agents'));
const usage: RunUsage = { input_tokens: 10, output_tokens: 5, cache_tokens: 0, cost_usd: 0.01, turns: 1, transcript: null, outcome: 'success', error: null };
const spent = { tokens_used: 15, cost_usd: 0.01, duration_ms: 100 };
const AGENT = 'agent-bugfix-junior';

for (const backend of backends) {
  describe(`transitions on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    beforeEach(async () => {
      store = await backend.open();
      await syncAgents(store.db, agents);
    });
    afterEach(async () => {
      await store.dispose();
    });

    const events = async (taskId: number) =>
      (await store.db.selectFrom('audit_log').select('event').where('task_id', '=', taskId).orderBy('id').execute()).map((e) => e.event);
    const runsOf = (taskId: number) => store.db.selectFrom('assignments').selectAll().where('task_id', '=', taskId).orderBy('id').execute();
    const agent = async () => (await getAgent(store.db, AGENT))!;

    async function assigned() {
      const { task } = await insertTask(store.db, newTask());
      const moved = await assign(store.db, { taskId: task.id, agent: AGENT, reasons: ['because'], actor: 'router' });
      return moved!;
    }

    it('assign → startRun → completeRun → published: a completed task with its MR, counted once', async () => {
      const task = await assigned();
      expect(task).toMatchObject({ status: 'assigned', assigned_agent: AGENT });
      expect(await assign(store.db, { taskId: task.id, agent: AGENT, reasons: [], actor: 'router' })).toBeNull();
      const [run] = await dueRuns(store.db, 5);
      const started = (await startRun(store.db, run!.id, 'doom/1-x'))!;
      expect(started.task).toMatchObject({ status: 'in_progress', branch: 'doom/1-x' });
      expect(await startRun(store.db, run!.id, 'doom/1-x')).toBeNull();

      const publishing = (await completeRun(store.db, run!, { usage, spent, headSha: 'abc', summary: 'did it', changedFiles: ['a.ts'] }))!;
      expect(publishing).toMatchObject({ status: 'publishing', head_sha: 'abc', tokens_used: 15 });
      expect(await publishingTasks(store.db)).toEqual([{ task: publishing, run: expect.objectContaining({ summary: 'did it', changed_files: '["a.ts"]', status: 'completed' }) }]);

      const done = (await published(store.db, task.id, { url: 'https://x/mr/1', number: 1, opened: true, agent: AGENT, data: {} }))!;
      expect(done).toMatchObject({ status: 'completed', pr_number: 1 });
      expect(await published(store.db, task.id, { url: 'u', number: 2, opened: true, agent: AGENT, data: {} })).toBeNull();
      expect(await publishingTasks(store.db)).toEqual([]);
      expect(await agent()).toMatchObject({ total_tasks: 1, completed_tasks: 1, failed_tasks: 0 });
      expect(await events(task.id)).toEqual(['task.assigned', 'run.started', 'run.completed', 'mr.opened']);
    });

    it('startRun refuses a task released meanwhile, and leaves its assignment unstarted', async () => {
      const task = await assigned();
      const [run] = await dueRuns(store.db, 5);
      await store.db.updateTable('tasks').set({ status: 'pending' }).where('id', '=', task.id).execute();
      expect(await startRun(store.db, run!.id, 'doom/1-x')).toBeNull();
      expect((await runsOf(task.id))[0]).toMatchObject({ status: 'assigned', started_at: null });
    });

    it('release and cancel end the open assignment and give back the exploration count', async () => {
      const task = await assigned();
      expect(await unstartedTasksOf(store.db, AGENT)).toHaveLength(1);
      const back = (await release(store.db, task.id, { reason: 'suspended', actor: 'test' }))!;
      expect(back).toMatchObject({ status: 'pending', assigned_agent: null });
      expect((await agent()).total_tasks).toBe(0);
      expect(await release(store.db, task.id, { reason: 'again', actor: 'test' })).toBeNull();

      await assign(store.db, { taskId: task.id, agent: AGENT, reasons: [], actor: 'router' });
      const cancelled = (await cancel(store.db, task.id, { reason: 'cancelled: closed', actor: 'alice' }))!;
      expect(cancelled).toMatchObject({ status: 'failed', error_message: 'cancelled: closed' });
      expect((await runsOf(task.id)).map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
      expect((await agent()).total_tasks).toBe(0);
      expect(await requeue(store.db, task.id, { fields: {}, actor: 'alice', action: 'labeled' })).toMatchObject({ status: 'pending', escalations: 0 });
    });

    it('escalate and failRun end the run and count it against the agent', async () => {
      const task = await assigned();
      let [run] = await dueRuns(store.db, 5);
      await startRun(store.db, run!.id, 'b');
      const pending = (await escalate(store.db, run!, { usage: { ...usage, outcome: 'timeout' }, spent, countAgainstAgent: true, minTier: 'senior', reason: 'timed out' }))!;
      expect(pending).toMatchObject({ status: 'pending', escalations: 1, min_tier: 'senior', assigned_agent: null });

      await assign(store.db, { taskId: task.id, agent: AGENT, reasons: [], actor: 'escalation' });
      [run] = await dueRuns(store.db, 5);
      await startRun(store.db, run!.id, 'b');
      const failed = (await failRun(store.db, run!, { usage: { ...usage, outcome: 'error' }, spent, countAgainstAgent: true, error: 'boom' }))!;
      expect(failed).toMatchObject({ status: 'failed', error_message: 'boom' });
      expect(await failRun(store.db, run!, { usage, spent, countAgainstAgent: true, error: 'again' })).toBeNull();
      expect(await agent()).toMatchObject({ failed_tasks: 2, total_tasks: 2 });
    });

    it('requeueInterruptedRuns keeps the lost run and queues the task to the same agent', async () => {
      const task = await assigned();
      const [run] = await dueRuns(store.db, 5);
      await startRun(store.db, run!.id, 'b');
      expect((await requeueInterruptedRuns(store.db)).map((r) => r.id)).toEqual([run!.id]);
      expect((await runsOf(task.id)).map((r) => [r.status, r.outcome])).toEqual([
        ['failed', 'interrupted'],
        ['assigned', null],
      ]);
      expect((await getTask(store.db, task.id))!.status).toBe('assigned');
      expect(await requeueInterruptedRuns(store.db)).toEqual([]);
    });

    it('every transition puts the issue behind; marking it synced catches it up', async () => {
      const task = await assigned();
      let behind = await tasksBehindIssue(store.db, ['github']);
      expect(behind.map((t) => t.id)).toEqual([task.id]);
      await markIssueSynced(store.db, task.id, { commentId: 5, hash: 'h', revision: behind[0]!.revision });
      expect(await tasksBehindIssue(store.db, ['github'])).toEqual([]);
      expect(await tasksBehindIssue(store.db, [])).toEqual([]);
      await cancel(store.db, task.id, { reason: 'x', actor: 'y' });
      behind = await tasksBehindIssue(store.db, ['github']);
      expect(behind.map((t) => [t.id, t.comment_id])).toEqual([[task.id, 5]]);
    });
  });
}
