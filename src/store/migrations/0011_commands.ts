import { sql, type Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * Slash commands beyond issue comments, and the feedback they give:
 * - `command_outcomes` gains `comment_kind` in its key. A GitHub review's body and an inline
 *   review comment have id spaces of their own, which may meet an issue comment's id; the
 *   table is rebuilt, since SQLite cannot change a primary key in place. Old rows are issue
 *   comments and notes (`comment`).
 * - `task_feedback`: each person's standing `/doom feedback` vote on one merge request of a
 *   task; the evaluator counts it in `review_feedback_score` (rewards/review.ts).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ext = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.alterTable('command_outcomes').renameTo('command_outcomes_0008').execute();
  await db.schema
    .createTable('command_outcomes')
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('repo_id', ext, (c) => c.notNull())
    .addColumn('comment_kind', 'text', (c) => c.notNull())
    .addColumn('comment_id', ext, (c) => c.notNull())
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('command', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reply', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    // Postgres keeps the old table's constraint name until it is dropped: a new one here.
    .addPrimaryKeyConstraint('command_outcomes_kind_pk', ['forge', 'repo_id', 'comment_kind', 'comment_id', 'line'])
    .execute();
  await sql`
    insert into command_outcomes (forge, repo_id, comment_kind, comment_id, line, command, state, reply, actor, started_at, finished_at)
    select forge, repo_id, 'comment', comment_id, line, command, state, reply, actor, started_at, finished_at from command_outcomes_0008`.execute(db);
  await db.schema.dropTable('command_outcomes_0008').execute();

  await db.schema
    .createTable('task_feedback')
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('mr_number', 'integer', (c) => c.notNull())
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('user_id', ext, (c) => c.notNull())
    .addColumn('vote', 'integer', (c) => c.notNull())
    .addColumn('text', 'text')
    .addColumn('comment_id', ext, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_feedback_pk', ['task_id', 'mr_number', 'login'])
    .execute();
}
