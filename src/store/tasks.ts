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

/** The task whose merge request's head is `sha` now: what a pipeline on that commit is about. */
export async function taskAtHead(db: Kysely<Database>, repo: { forge: string; repoId: number }, sha: string): Promise<TaskRow | undefined> {
  return db
    .selectFrom('tasks')
    .selectAll()
    .where('forge', '=', repo.forge)
    .where('repo_id', '=', repo.repoId)
    .where('head_sha', '=', sha)
    .where('pr_number', 'is not', null)
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

/** Changes a task row; every change bumps its revision, so the issue knows it is behind. */
export async function updateTask(db: Kysely<Database>, id: number, patch: TaskUpdate): Promise<TaskRow> {
  const row = await db
    .updateTable('tasks')
    .set((eb) => ({ ...patch, updated_at: nowIso(), revision: eb('revision', '+', 1) }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new Error(`task ${id} does not exist`);
  return row;
}

/**
 * Records what the issue now shows: the comment, its hash, and the revision it was rendered
 * from. It does not bump the revision (showing a state is not a change of it).
 */
export async function markIssueSynced(
  db: Kysely<Database>,
  id: number,
  shown: { commentId: number | null; hash: string | null; revision: number },
): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ comment_id: shown.commentId, comment_hash: shown.hash, synced_revision: shown.revision })
    .where('id', '=', id)
    .execute();
}

/** Tasks whose issue has not been brought in line with their latest revision (oldest first). */
export async function tasksBehindIssue(db: Kysely<Database>, forges: readonly string[], limit = 100): Promise<TaskRow[]> {
  if (forges.length === 0) return [];
  return db
    .selectFrom('tasks')
    .selectAll()
    .where('forge', 'in', [...forges])
    .where((eb) => eb.or([eb('synced_revision', 'is', null), eb('synced_revision', '<', eb.ref('revision'))]))
    .orderBy('id')
    .limit(limit)
    .execute();
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
