/**
 * Records the seed's hook events around every run, whatever executor runs it: `TaskStart`
 * before, then one `PostToolUse` per tool call in the transcript and `TaskComplete` with the
 * outcome after. `SubagentStop` comes from Claude Code itself, through `doom evaluate`.
 * A failed write is logged and the run goes on (the seed: a hook failure never fails a task).
 *
 * ```ts
 * const executor = withHookEvents(new LocalExecutor(options), db, log);
 * ```
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import { toolUses } from '../runners/hook-events.js';
import { tokensUsed } from '../runners/runner.js';
import { recordHookEvents, type NewHookEvent } from '../store/hook-events.js';
import type { Database } from '../store/schema.js';
import type { Executor, RunRequest, RunResult } from './contract.js';

/** Pure: the events after a run. */
export function completionEvents(request: RunRequest, result: RunResult): NewHookEvent[] {
  const ids = { taskId: request.task.id, runId: request.runId, agentName: request.agent.name };
  return [
    ...toolUses(result.transcript).map((use): NewHookEvent => ({ ...ids, type: 'PostToolUse', payload: { ...use } })),
    {
      ...ids,
      type: 'TaskComplete',
      payload: {
        outcome: result.outcome,
        error: result.error ?? null,
        commit: result.commitSha,
        changed_files: result.changedFiles,
        tokens_used: tokensUsed(result.usage),
        cost_usd: result.usage.costUsd,
        turns: result.usage.turns,
        duration_ms: Math.round(result.durationMs),
      },
    },
  ];
}

export function withHookEvents(inner: Executor, db: Kysely<Database>, log: Logger): Executor {
  const record = (events: NewHookEvent[]) =>
    recordHookEvents(db, events).catch((error: unknown) => log.warn({ err: error, run: events[0]?.runId }, 'hook events not recorded'));
  return {
    get capacity() {
      return inner.capacity;
    },
    async run(request, signal) {
      await record([
        {
          type: 'TaskStart',
          taskId: request.task.id,
          runId: request.runId,
          agentName: request.agent.name,
          payload: { branch: request.branch, type: request.task.type, priority: request.task.priority, runner: request.agent.runner.kind, tier: request.agent.tier },
        },
      ]);
      const result = await inner.run(request, signal);
      await record(completionEvents(request, result));
      return result;
    },
  };
}
