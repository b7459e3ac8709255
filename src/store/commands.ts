/**
 * The outcomes of slash commands, one row per `/doom` line of a comment, the feedback they
 * record, and the lookups commands read.
 */
import type { Kysely } from 'kysely';
import type { CommentKind } from '../forges/event.js';
import type { CommandOutcomesTable, Database, TaskFeedbackRow, TaskRow } from './schema.js';
import { nowIso } from './time.js';

export interface CommentKey {
  forge: string;
  repoId: number;
  kind: CommentKind;
  commentId: number;
}

export type CommandOutcome = Pick<CommandOutcomesTable, 'line' | 'command' | 'state' | 'reply'>;

/** Every line of the comment already begun or done, by line. */
export async function commandOutcomes(db: Kysely<Database>, key: CommentKey): Promise<Map<number, CommandOutcome>> {
  const rows = await db
    .selectFrom('command_outcomes')
    .select(['line', 'command', 'state', 'reply'])
    .where('forge', '=', key.forge)
    .where('repo_id', '=', key.repoId)
    .where('comment_kind', '=', key.kind)
    .where('comment_id', '=', key.commentId)
    .execute();
  return new Map(rows.map((r) => [r.line, r]));
}

/**
 * Claims a line before its effect. False when another delivery of the same comment claimed
 * it first: that one runs it, this one must not.
 */
export async function beginCommand(db: Kysely<Database>, key: CommentKey, line: number, command: string, actor: string): Promise<boolean> {
  const inserted = await db
    .insertInto('command_outcomes')
    .values({
      forge: key.forge,
      repo_id: key.repoId,
      comment_kind: key.kind,
      comment_id: key.commentId,
      line,
      command,
      state: 'started',
      reply: null,
      actor,
      started_at: nowIso(),
      finished_at: null,
    })
    .onConflict((oc) => oc.columns(['forge', 'repo_id', 'comment_kind', 'comment_id', 'line']).doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function finishCommand(db: Kysely<Database>, key: CommentKey, line: number, reply: string): Promise<void> {
  await db
    .updateTable('command_outcomes')
    .set({ state: 'done', reply, finished_at: nowIso() })
    .where('forge', '=', key.forge)
    .where('repo_id', '=', key.repoId)
    .where('comment_kind', '=', key.kind)
    .where('comment_id', '=', key.commentId)
    .where('line', '=', line)
    .execute();
}

/** The task a comment's thread belongs to: the task, or the task whose MR it is. */
export async function findTaskByThread(
  db: Kysely<Database>,
  thread: { forge: string; repoId: number; on: 'issue' | 'merge_request'; number: number },
): Promise<TaskRow | undefined> {
  return db
    .selectFrom('tasks')
    .selectAll()
    .where('forge', '=', thread.forge)
    .where('repo_id', '=', thread.repoId)
    .where(thread.on === 'issue' ? 'issue_number' : 'pr_number', '=', thread.number)
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

/** One person's vote, as `/doom feedback` gives it. */
export interface FeedbackVote {
  taskId: number;
  mrNumber: number;
  user: { id: number; login: string };
  vote: 1 | -1;
  text: string | null;
  commentId: number;
}

/**
 * Records a person's vote on a task's merge request; a later vote of theirs replaces it (one
 * standing vote per person, as one 👍 per person counts). Returns the vote it replaced.
 */
export async function recordFeedback(db: Kysely<Database>, input: FeedbackVote): Promise<{ previous: 1 | -1 | null }> {
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('task_feedback')
      .select('vote')
      .where('task_id', '=', input.taskId)
      .where('mr_number', '=', input.mrNumber)
      .where('login', '=', input.user.login)
      .executeTakeFirst();
    const now = nowIso();
    const row = { user_id: input.user.id, vote: input.vote, text: input.text, comment_id: input.commentId, updated_at: now };
    await trx
      .insertInto('task_feedback')
      .values({ task_id: input.taskId, mr_number: input.mrNumber, login: input.user.login, created_at: now, ...row })
      .onConflict((oc) => oc.columns(['task_id', 'mr_number', 'login']).doUpdateSet(row))
      .execute();
    await trx
      .insertInto('audit_log')
      .values({
        at: now,
        event: 'feedback.recorded',
        actor: input.user.login,
        task_id: input.taskId,
        agent_name: null,
        data: JSON.stringify({ mr: input.mrNumber, vote: input.vote, previous: before?.vote ?? null, comment: input.commentId }),
      })
      .execute();
    return { previous: before?.vote ?? null };
  });
}

/** The standing votes on one merge request of a task, by login. */
export async function feedbackOf(db: Kysely<Database>, taskId: number, mrNumber: number): Promise<TaskFeedbackRow[]> {
  return db.selectFrom('task_feedback').selectAll().where('task_id', '=', taskId).where('mr_number', '=', mrNumber).orderBy('login').execute();
}
