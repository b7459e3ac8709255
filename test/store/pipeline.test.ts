/** The pipeline's store operations on every backend: idempotent writes, decoded reads, the summary. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionState } from '../../src/pipeline/schemas.js';
import { candidatesOfTask, headToHead, latestExecution, pipelineSummary, recentRuns, recordCandidate, recordSelection, saveExecution, type NewCandidate } from '../../src/store/pipeline.js';
import { backends } from '../helpers/stores.js';

const state = (attempt: number, phase: ExecutionState['phase'] = 'implement'): ExecutionState => ({
  task_id: 7,
  attempt,
  priority: 'P1',
  phase,
  phases: { spec: { status: 'done', started_at: '2026-01-01T00:00:00.000Z', ended_at: '2026-01-01T00:00:01.000Z', outcome: 'from_issue', tokens: 0, cost_usd: 0, duration_ms: 1000, budget: null, note: null } },
  gates_passed: [],
  budget: { total: { tokens: 1000, usd: 1, wall_ms: 60_000 }, spent: { tokens: 10, usd: 0.01, wall_ms: 1000 } },
  breakers: [],
  spec: null,
  implementation: null,
  outcome: null,
});
const metrics = { outcome: null, pass_at_1: null, pass_at_k: null, candidates: 0, cost_usd: 0, tokens: 0, duration_ms: 0, suite_reruns: 0, flaky_reruns: 0 };
const candidate = (index: number, agent: string, passed: boolean, at?: string): NewCandidate & { at?: string } => ({
  assignmentId: 3,
  taskId: 7,
  index,
  agent,
  variant: 'implement',
  outcome: 'success',
  error: at ?? null,
  commitSha: 'a'.repeat(40),
  patch: '+x',
  patchHash: 'h',
  diffLines: 1,
  tokens: 100,
  costUsd: 0.5,
  turns: 2,
  durationMs: 10,
  transcript: 't',
  summary: null,
  checks: { guards: 'pass', oracle: passed ? 'pass' : 'fail', suite: 'pass', lint: 'skipped', notes: {} },
  passed,
});

for (const backend of backends) {
  describe(`pipeline store on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    beforeEach(async () => {
      store = await backend.open();
    });
    afterEach(async () => {
      await store.dispose();
    });

    it('keeps one execution per attempt, the newest attempt being the task\'s', async () => {
      await saveExecution(store.db, state(3, 'spec'), metrics);
      await saveExecution(store.db, state(3, 'review'), { ...metrics, pass_at_1: false, pass_at_k: true, cost_usd: 1.5, duration_ms: 2000, suite_reruns: 2, flaky_reruns: 1 });
      expect((await latestExecution(store.db, 7))!.phase).toBe('review');
      await saveExecution(store.db, state(4, 'spec'), { ...metrics, pass_at_1: true, pass_at_k: true, cost_usd: 0.5, duration_ms: 1000 });
      expect((await latestExecution(store.db, 7))!.attempt).toBe(4);
      expect(await latestExecution(store.db, 8)).toBeNull();
      expect(await pipelineSummary(store.db)).toEqual({
        executions: 2,
        pass_at_1: 0.5,
        pass_at_k: 1,
        cost_usd: 2,
        mean_cost_usd: 1,
        mean_duration_ms: 1500,
        suite_reruns: 2,
        flaky_reruns: 1,
        flake_rate: 0.5,
      });
    });

    it('records candidates and the selection once, however often they are written', async () => {
      for (let i = 0; i < 2; i++) {
        await recordCandidate(store.db, candidate(0, 'a', false));
        await recordCandidate(store.db, candidate(1, 'b', true));
        const pairs = [{ winner: 1, loser: 0, winner_agent: 'b', loser_agent: 'a', reason: 'critical gates' }];
        await recordSelection(store.db, { assignmentId: 3, taskId: 7, clusters: new Map([[0, 0], [1, 1]]), selected: 1, pairs });
      }
      const rows = await candidatesOfTask(store.db, 7);
      expect(rows.map((r) => [r.idx, r.agent_name, r.selected, r.cluster, r.checks?.oracle])).toEqual([
        [0, 'a', 0, 0, 'fail'],
        [1, 'b', 1, 1, 'pass'],
      ]);
      expect(await headToHead(store.db)).toEqual([expect.objectContaining({ winner_agent: 'b', loser_agent: 'a', reason: 'critical gates' })]);
      expect((await recentRuns(store.db, 5, 'a')).map((r) => r.passed)).toEqual([false]);
      expect((await recentRuns(store.db, 5)).map((r) => r.passed)).toEqual([true, false]);
    });
  });
}
