/** Tasks: one per forge issue, in the seed's states. */
import type { Kysely } from 'kysely';
import type { Database, NewTask, TaskRow, TaskStatus, TaskUpdate } from './schema.js';
import { nowIso } from './time.js';

export interface IssueKey {
  forge: string;
  repoId: number;
  issueNumber: number;
}

export async function findTaskByIssue(db: Kysely<Database>, key: IssueKey): Promise<TaskRow | undefined> {
  return db
    .selectFrom('tasks')
    .selectAll()
    .where('forge', '=', key.forge)
    .where('repo_id', '=', key.repoId)
    .where('issue_number', '=', key.issueNumber)
    .executeTakeFirst();
}

export async function getTask(db: Kysely<Database>, id: number): Promise<TaskRow | undefined> {
  return db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Inserts a task unless its issue already has one; returns the row and whether it is new. */
export async function insertTask(db: Kysely<Database>, task: NewTask): Promise<{ task: TaskRow; created: boolean }> {
  const inserted = await db
    .insertInto('tasks')
    .values(task)
    .onConflict((oc) => oc.columns(['forge', 'repo_id', 'issue_number']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { task: inserted, created: true };
  const existing = await findTaskByIssue(db, { forge: task.forge, repoId: task.repo_id, issueNumber: task.issue_number });
  if (!existing) throw new Error(`task for ${task.forge} ${task.repo}#${task.issue_number} vanished during insert`);
  return { task: existing, created: false };
}

export async function updateTask(db: Kysely<Database>, id: number, patch: TaskUpdate): Promise<TaskRow> {
  const row = await db
    .updateTable('tasks')
    .set({ ...patch, updated_at: nowIso() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new Error(`task ${id} does not exist`);
  return row;
}

export async function listTasks(db: Kysely<Database>, options: { status?: TaskStatus; limit?: number } = {}): Promise<TaskRow[]> {
  let q = db.selectFrom('tasks').selectAll();
  if (options.status) q = q.where('status', '=', options.status);
  return q.orderBy('id', 'desc').limit(options.limit ?? 100).execute();
}

export async function pendingTasks(db: Kysely<Database>): Promise<TaskRow[]> {
  return db.selectFrom('tasks').selectAll().where('status', '=', 'pending').orderBy('id').execute();
}

export async function taskCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('tasks')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
