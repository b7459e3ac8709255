import type { Kysely } from 'kysely';
import { idColumn, type Dialect } from './columns.js';

/**
 * The `local` forge's state (a git repository on disk has no forge to remember it): its
 * issues (a task id people type, e.g. `test-001`), merge requests (a branch and its state),
 * reviews, comments, and pipelines (the repository's own commands, run by the bot, with their
 * reports). Plus the seed's hook events, per run, for every forge.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = idColumn(dialect);
  await db.schema
    .createTable('local_issues')
    .addColumn('id', id.type, id.build)
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('local_issues_key', ['repo', 'key'])
    .execute();
  await db.schema
    .createTable('local_merge_requests')
    .addColumn('id', id.type, id.build)
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('source_branch', 'text', (c) => c.notNull())
    .addColumn('target_branch', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('local_reviews')
    .addColumn('merge_request_id', 'integer', (c) => c.notNull())
    .addColumn('reviewer', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('local_reviews_pk', ['merge_request_id', 'reviewer'])
    .execute();
  await db.schema
    .createTable('local_comments')
    .addColumn('id', id.type, id.build)
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('thread', 'text', (c) => c.notNull())
    .addColumn('marker', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('local_comments_marker', ['repo', 'thread', 'marker'])
    .execute();
  await db.schema
    .createTable('local_pipelines')
    .addColumn('id', id.type, id.build)
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('sha', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reports', 'text', (c) => c.notNull())
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('hook_events')
    .addColumn('id', id.type, id.build)
    .addColumn('task_id', 'integer')
    .addColumn('run_id', 'integer')
    .addColumn('agent_name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('hook_events_task').on('hook_events').columns(['task_id', 'id']).execute();
}
