import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * Work a run kept on a budget stop: when an agent runs out of time or tokens, the bot commits
 * what it did to the task's branch and pushes it, and the escalated run starts from there.
 * `kept_sha` is that commit and `kept_outcome` why the run stopped (`timeout`, `token_limit`);
 * both are cleared once the task completes or fails.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('kept_sha', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('kept_outcome', 'text').execute();
}
