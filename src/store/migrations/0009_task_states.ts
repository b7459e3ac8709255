import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * Task and run states as transitions (store/transitions.ts):
 * - `assignments.summary` and `assignments.changed_files` keep what a successful run said, so
 *   the `publishing` step (opening or updating the MR) can be finished by a later pass or a
 *   restart, from the store alone (with `assignments.guards`, what the guards flagged);
 * - `tasks.revision` counts every change of a task row and `tasks.synced_revision` is the one
 *   the issue last showed, so a reconcile finds the issues that are behind without rendering.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('assignments').addColumn('summary', 'text').execute();
  await db.schema.alterTable('assignments').addColumn('changed_files', 'text').execute();
  // What the guards flagged in the run's change (JSON), for the MR a later pass publishes.
  await db.schema.alterTable('assignments').addColumn('guards', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('tasks').addColumn('synced_revision', 'integer').execute();
}
