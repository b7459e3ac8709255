import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * What each `/doom` line of a comment came to, so a redelivered comment (a retry after a
 * failed reply, a duplicate webhook) repeats the reply and never the effect. A line is
 * `started` before its effect and `done` with its reply after; a `started` line found on a
 * retry is reported as interrupted, not run again.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ext = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('command_outcomes')
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('repo_id', ext, (c) => c.notNull())
    .addColumn('comment_id', ext, (c) => c.notNull())
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('command', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reply', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addPrimaryKeyConstraint('command_outcomes_pk', ['forge', 'repo_id', 'comment_id', 'line'])
    .execute();
}
