import type { Kysely } from 'kysely';

/** A task's dollar budget per run, beside its tokens: null when runs are limited by tokens only. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('max_usd', 'real').execute();
}
