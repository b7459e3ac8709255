/** The outcomes of slash commands, one row per `/doom` line of a comment, and the lookups commands read. */
import type { Kysely } from 'kysely';
import type { CommandOutcomesTable, Database, TaskRow } from './schema.js';
import { nowIso } from './time.js';

export interface CommentKey {
  forge: string;
  repoId: number;
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
    .values({ forge: key.forge, repo_id: key.repoId, comment_id: key.commentId, line, command, state: 'started', reply: null, actor, started_at: nowIso(), finished_at: null })
    .onConflict((oc) => oc.columns(['forge', 'repo_id', 'comment_id', 'line']).doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function finishCommand(db: Kysely<Database>, key: CommentKey, line: number, reply: string): Promise<void> {
  await db
    .updateTable('command_outcomes')
    .set({ state: 'done', reply, finished_at: nowIso() })
    .where('forge', '=', key.forge)
    .where('repo_id', '=', key.repoId)
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
