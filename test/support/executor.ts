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

/**
 * An Executor whose runs last until they are stopped: each waits for its abort signal and then
 * ends `cancelled`, as a real run stopped mid-way does. For tests of what stopping a run leads to.
 */
export function heldExecutor(capacity = 2): ScriptedExecutor {
  const requests: RunRequest[] = [];
  return {
    capacity,
    requests,
    run(request: RunRequest, signal: AbortSignal): Promise<RunResult> {
      requests.push(request);
      return new Promise((resolve) => {
        const stop = () =>
          resolve({
            outcome: 'cancelled',
            usage: { inputTokens: 500, outputTokens: 100, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0.002, turns: 1 },
            transcript: '',
            commitSha: null,
            changedFiles: [],
            durationMs: 5,
            error: 'stopped',
          });
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
    },
  };
}
