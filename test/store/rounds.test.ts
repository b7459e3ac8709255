/** The round transitions on every backend: startRound decides and moves in one step; failRound leaves the MR standing. */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAgents } from '../../src/config/load.js';
import { completedRounds, publishedAttempt } from '../../src/store/assignments.js';
import { getAgent, syncAgents } from '../../src/store/agents.js';
import { inheritedFailure, recordCiFailure } from '../../src/store/ci-failures.js';
import { insertTask } from '../../src/store/tasks.js';
import {
  assign,
  completeRun,
  dueRuns,
  failRound,
  published,
  release,
  requeueInterruptedRuns,
  startRound,
  startRun,
  type RunUsage,
} from '../../src/store/transitions.js';
import type { RoundInput } from '../../src/tasks/rounds.js';
import { repoRoot } from '../helpers/app.js';
import { backends } from '../helpers/stores.js';
import { newTask } from '../helpers/tasks.js';

const agents = loadAgents(join(repoRoot, 'config/agents'));
const usage: RunUsage = { input_tokens: 10, output_tokens: 5, cache_tokens: 0, cost_usd: 0.01, turns: 1, transcript: null, outcome: 'success', error: null };
const spent = { tokens_used: 15, cost_usd: 0.01, duration_ms: 100 };
const AGENT = 'agent-bugfix-junior';
const feedback: RoundInput = { requestedBy: "@alice's review", comments: [{ author: 'alice', body: 'rename it', path: 'a.ts', line: 3 }], job: null, inheritedJobs: [] };

for (const backend of backends) {
  describe(`round transitions on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    beforeEach(async () => {
      store = await backend.open();
      await syncAgents(store.db, agents);
    });
    afterEach(async () => {
      await store.dispose();
    });

    const runsOf = (taskId: number) => store.db.selectFrom('assignments').selectAll().where('task_id', '=', taskId).orderBy('id').execute();

    /** A task whose first attempt published MR !4 at `sha-1`. */
    async function publishedTask() {
      const { task } = await insertTask(store.db, newTask());
      await assign(store.db, { taskId: task.id, agent: AGENT, reasons: ['because'], actor: 'router' });
      const [run] = await dueRuns(store.db, 5);
      await startRun(store.db, run!.id, 'doom/1-x');
      await completeRun(store.db, run!, { usage, spent, headSha: 'sha-1', summary: 's', changedFiles: ['a.ts'] });
      await published(store.db, task.id, { url: 'u', number: 4, opened: true, agent: AGENT, runId: run!.id, data: {} });
      return { taskId: task.id, attempt: run! };
    }
    const request = (taskId: number, key: string, kind: 'revision' | 'ci_fix' = 'revision', maxRounds = 2) =>
      startRound(store.db, { taskId, kind, triggerKey: key, feedback, maxRounds, actor: 'github:alice' });

    it('starts a round of the published attempt, to its agent, on its branch; once per trigger, one at a time, up to the cap', async () => {
      const { taskId, attempt } = await publishedTask();
      const before = (await getAgent(store.db, AGENT))!;
      const first = await request(taskId, 'review:1');
      expect(first.decision).toEqual({ kind: 'start', round: 1 });
      expect(first.task).toMatchObject({ status: 'assigned', assigned_agent: AGENT, pr_number: 4, head_sha: 'sha-1' });
      expect(first.run).toMatchObject({ status: 'assigned', round_kind: 'revision', round_of: attempt.id, round: 1, branch: 'doom/1-x', agent_name: AGENT });
      expect(JSON.parse(first.run!.round_input!)).toEqual(feedback);
      // A round is not another task for the agent.
      expect((await getAgent(store.db, AGENT))!.total_tasks).toBe(before.total_tasks);

      expect((await request(taskId, 'review:1')).decision).toEqual({ kind: 'duplicate' });
      expect((await request(taskId, 'review:2')).decision).toEqual({ kind: 'busy', why: 'the task is assigned: one run at a time' });

      // It runs and publishes: the attempt still owns the MR, the round is counted.
      const [due] = await dueRuns(store.db, 5);
      await startRun(store.db, due!.id, 'doom/1-x');
      await completeRun(store.db, due!, { usage, spent, headSha: 'sha-2', summary: 'r', changedFiles: ['a.ts'], round: true });
      const done = await published(store.db, taskId, { url: 'u', number: 4, opened: false, agent: AGENT, runId: due!.id, data: {} });
      expect(done).toMatchObject({ status: 'completed', head_sha: 'sha-2' });
      expect((await publishedAttempt(store.db, taskId, 4))!.id).toBe(attempt.id);
      expect(await completedRounds(store.db, attempt.id, 'revision')).toBe(1);
      expect((await getAgent(store.db, AGENT))!.completed_tasks).toBe(before.completed_tasks);

      // CI fixes have a cap of their own; revisions reach theirs.
      expect((await request(taskId, 'ci:sha-2', 'ci_fix', 1)).decision).toEqual({ kind: 'start', round: 1 });
      const [fix] = await dueRuns(store.db, 5);
      await startRun(store.db, fix!.id, 'doom/1-x');
      await failRound(store.db, fix!, { usage: { ...usage, outcome: 'failed' }, spent, error: 'the agent failed' });
      expect((await request(taskId, 'ci:sha-3', 'ci_fix', 1)).decision).toEqual({ kind: 'capped', rounds: 1 });
      expect((await request(taskId, 'review:3')).decision).toEqual({ kind: 'start', round: 2 });
    });

    it('a failed round leaves the task completed with its MR and head, and does not count against the agent', async () => {
      const { taskId } = await publishedTask();
      const before = (await getAgent(store.db, AGENT))!;
      await request(taskId, 'review:1');
      const [due] = await dueRuns(store.db, 5);
      await startRun(store.db, due!.id, 'doom/1-x');
      const task = await failRound(store.db, due!, { usage: { ...usage, outcome: 'timeout' }, spent, error: 'the agent timed out' });
      expect(task).toMatchObject({ status: 'completed', pr_number: 4, head_sha: 'sha-1', tokens_used: 15 });
      expect((await runsOf(taskId)).at(-1)).toMatchObject({ status: 'failed', outcome: 'timeout', round: 1 });
      expect((await getAgent(store.db, AGENT))!.failed_tasks).toBe(before.failed_tasks);
      expect(await failRound(store.db, due!, { usage, spent, error: 'again' })).toBeNull();
    });

    it('a round the bot lost is re-queued as the same round, with its feedback', async () => {
      const { taskId, attempt } = await publishedTask();
      await request(taskId, 'review:1');
      const [due] = await dueRuns(store.db, 5);
      await startRun(store.db, due!.id, 'doom/1-x');
      await requeueInterruptedRuns(store.db);
      const again = (await runsOf(taskId)).at(-1)!;
      expect(again).toMatchObject({ status: 'assigned', round_kind: 'revision', round_of: attempt.id, round: 1 });
      expect(JSON.parse(again.round_input!)).toEqual(feedback);
    });

    it('a queued round given back (its agent suspended) is dropped: the task is completed again, never re-routed', async () => {
      const { taskId } = await publishedTask();
      await request(taskId, 'review:1');
      const back = await release(store.db, taskId, { reason: `agent ${AGENT} was suspended`, actor: 'tiers' });
      expect(back).toMatchObject({ status: 'completed', assigned_agent: AGENT, pr_number: 4, head_sha: 'sha-1' });
      expect((await runsOf(taskId)).at(-1)).toMatchObject({ status: 'cancelled', round: 1 });
      expect(await dueRuns(store.db, 5)).toEqual([]);
    });

    it('refuses a round for a task without a merge request', async () => {
      const { task } = await insertTask(store.db, newTask());
      expect((await request(task.id, 'review:1')).decision).toEqual({ kind: 'refuse', why: 'the task has no merge request yet' });
    });

    it('a red pipeline is excused only when every failed job also fails on the target branch', async () => {
      const { taskId } = await publishedTask();
      await recordCiFailure(store.db, { taskId, headSha: 'sha-1', pipelineId: 10, failedJobs: ['test', 'lint'], inheritedJobs: ['lint'], targetPipelineId: 9 });
      expect(await inheritedFailure(store.db, taskId, 'sha-1')).toBeNull();
      await recordCiFailure(store.db, { taskId, headSha: 'sha-1', pipelineId: 11, failedJobs: ['lint'], inheritedJobs: ['lint'], targetPipelineId: 9 });
      expect(await inheritedFailure(store.db, taskId, 'sha-1')).toEqual(['lint']);
      // A redelivery keeps the first reading.
      await recordCiFailure(store.db, { taskId, headSha: 'sha-1', pipelineId: 11, failedJobs: ['lint'], inheritedJobs: [], targetPipelineId: 9 });
      expect(await inheritedFailure(store.db, taskId, 'sha-1')).toEqual(['lint']);
      expect(await inheritedFailure(store.db, taskId, 'sha-2')).toBeNull();
    });
  });
}
