/** Assignments (runs): one row each time a task is given to an agent. */
import type { Insertable } from 'kysely';
import type { AssignmentsTable } from './schema.js';
import { nowIso } from './time.js';

/** A fresh assignment of `taskId` to `agent`, not started, nothing spent yet. */
export function newAssignment(taskId: number, agent: string, reasons: string): Insertable<AssignmentsTable> {
  return {
    task_id: taskId,
    agent_name: agent,
    status: 'assigned',
    reasons,
    assigned_at: nowIso(),
    started_at: null,
    finished_at: null,
    outcome: null,
    error: null,
    input_tokens: 0,
    output_tokens: 0,
    cache_tokens: 0,
    cost_usd: 0,
    turns: 0,
    transcript: null,
  };
}
