/**
 * An Executor for tests and benchmarks that runs no agent: every run "succeeds" at once with
 * a commit id derived from the task and the run, one changed file and fixed usage, as if the
 * agent had worked and the bot had pushed. `capacity` may be changed while the app runs (0
 * keeps assigned tasks waiting, unstarted).
 *
 * ```ts
 * const executor = scriptedExecutor();
 * const app = await startTestApp({ executor });
 * executor.capacity = 0; // later tasks stay assigned
 * ```
 */
import { createHash } from 'node:crypto';
import type { Executor, RunRequest, RunResult } from '../../src/executor/contract.js';

export interface ScriptedExecutor extends Executor {
  capacity: number;
  /** The requests it was given, in order. */
  readonly requests: RunRequest[];
}

export const commitFor = (taskId: number, runId: number): string => createHash('sha1').update(`task ${taskId} run ${runId}`).digest('hex');

export function scriptedExecutor(options: { capacity?: number; outcome?: (request: RunRequest) => RunResult['outcome'] } = {}): ScriptedExecutor {
  const requests: RunRequest[] = [];
  return {
    capacity: options.capacity ?? 2,
    requests,
    async run(request: RunRequest): Promise<RunResult> {
      requests.push(request);
      const outcome = options.outcome?.(request) ?? 'success';
      return {
        outcome,
        usage: { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0.0081, turns: 3 },
        transcript: '',
        summary: 'Fixed the greeting.',
        commitSha: outcome === 'success' ? commitFor(request.task.id, request.runId) : null,
        changedFiles: outcome === 'success' ? ['README.md'] : [],
        durationMs: 10,
        ...(outcome === 'success' ? {} : { error: `the agent ended with ${outcome}` }),
      };
    },
  };
}
