import type { Kysely } from 'kysely';

/**
 * When the issue change that started a task's current attempt happened, by the payload's
 * `updated_at`: a copy of that delivery (a webhook redelivered with a new id) is not a relabel.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('trigger_changed_at', 'text').execute();
}
