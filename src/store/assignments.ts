/**
 * Assignments: one row each time a task is given to an agent. An assignment is the task's
 * *attempt* (the first routing, an escalation, a re-queue after an interruption, a relabel):
 * it records what it published, and the evaluator scores it with its own reward row.
 */
import type { Insertable, Kysely } from 'kysely';
import type { AssignmentRow, AssignmentsTable, Database, RoundKind, TaskRow } from './schema.js';
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
    branch: null,
    head_sha: null,
    mr_number: null,
    mr_url: null,
  };
}

/** A task's runs, oldest first. */
export function runsOfTask(db: Kysely<Database>, taskId: number): Promise<AssignmentRow[]> {
  return db.selectFrom('assignments').selectAll().where('task_id', '=', taskId).orderBy('id', 'asc').execute();
}

/**
 * The newest attempt of the task that published merge request `mrNumber`: the one its events
 * score. Its rounds (revisions, CI fixes) publish to the same MR but are its runs, not attempts.
 */
export async function publishedAttempt(db: Kysely<Database>, taskId: number, mrNumber: number): Promise<AssignmentRow | undefined> {
  return db
    .selectFrom('assignments')
    .selectAll()
    .where('task_id', '=', taskId)
    .where('mr_number', '=', mrNumber)
    .where('round_of', 'is', null)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * The task whose attempt published a merge request (found by its number, or by the head commit
 * the attempt pushed), as that attempt left it: its `pr_number`, `head_sha` and `branch` are the
 * attempt's, so events of an earlier attempt's merge request still score that attempt after a
 * relabel moved the task on. Undefined when no published attempt matches, or when a later
 * attempt published the same merge request (a commit it superseded scores nothing).
 */
export async function taskOfPublishedAttempt(
  db: Kysely<Database>,
  repo: { forge: string; repoId: number },
  by: { mrNumber: number } | { headSha: string },
): Promise<TaskRow | undefined> {
  let q = db
    .selectFrom('assignments')
    .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
    .select(['assignments.id as attempt_id', 'assignments.task_id', 'assignments.mr_number', 'assignments.head_sha', 'assignments.branch'])
    .where('tasks.forge', '=', repo.forge)
    .where('tasks.repo_id', '=', repo.repoId)
    .where('assignments.mr_number', 'is not', null);
  q = 'mrNumber' in by ? q.where('assignments.mr_number', '=', by.mrNumber) : q.where('assignments.head_sha', '=', by.headSha);
  const found = await q.orderBy('assignments.id', 'desc').limit(1).executeTakeFirst();
  if (!found || found.mr_number === null) return undefined;
  const newest = await publishedAttempt(db, found.task_id, found.mr_number);
  if (newest?.id !== found.attempt_id) return undefined;
  const task = await db.selectFrom('tasks').selectAll().where('id', '=', found.task_id).executeTakeFirst();
  return task && { ...task, pr_number: found.mr_number, head_sha: found.head_sha, branch: found.branch };
}

/** The agent's newest attempt of the task, if it had one. */
export async function latestAttemptOf(db: Kysely<Database>, taskId: number, agent: string): Promise<AssignmentRow | undefined> {
  return db
    .selectFrom('assignments')
    .selectAll()
    .where('task_id', '=', taskId)
    .where('agent_name', '=', agent)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The branches the task's attempts have worked on, oldest first. */
export async function branchesOfTask(db: Kysely<Database>, taskId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('assignments')
    .select((eb) => ['branch', eb.fn.min('id').as('first')])
    .where('task_id', '=', taskId)
    .where('branch', 'is not', null)
    .groupBy('branch')
    .orderBy('first')
    .execute();
  return rows.map((r) => r.branch!);
}

/** What an attempt published: the commit it pushed and its merge request. */
export async function recordPublication(
  db: Kysely<Database>,
  assignmentId: number,
  published: { headSha: string | null; mrNumber: number; mrUrl: string },
): Promise<void> {
  await db
    .updateTable('assignments')
    .set({ head_sha: published.headSha, mr_number: published.mrNumber, mr_url: published.mrUrl })
    .where('id', '=', assignmentId)
    .execute();
}

/** Completed rounds of `kind` of an attempt: what the reward's review component counts. */
export async function completedRounds(db: Kysely<Database>, attemptId: number, kind: RoundKind): Promise<number> {
  const row = await db
    .selectFrom('assignments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('round_of', '=', attemptId)
    .where('round_kind', '=', kind)
    .where('status', '=', 'completed')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
