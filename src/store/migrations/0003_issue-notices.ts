import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * Notices the bot posted once per issue (e.g. who may start it, after a refused label), so
 * a run of refused events neither re-reads the comments nor posts again.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ext = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('issue_notices')
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('repo_id', ext, (c) => c.notNull())
    .addColumn('issue_number', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('comment_id', ext, (c) => c.notNull())
    .addColumn('posted_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('issue_notices_pk', ['forge', 'repo_id', 'issue_number', 'kind'])
    .execute();
}
