/** Assignments (runs): one row each time a task is given to an agent. */
import type { Insertable, Kysely } from 'kysely';
import type { AssignmentRow, AssignmentsTable, Database } from './schema.js';
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

/** A task's runs, oldest first. */
export function runsOfTask(db: Kysely<Database>, taskId: number): Promise<AssignmentRow[]> {
  return db.selectFrom('assignments').selectAll().where('task_id', '=', taskId).orderBy('id', 'asc').execute();
}
