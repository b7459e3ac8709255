import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * `rewards.guarded`: 1 when a reward-hacking guard flagged the change (a protected path, a
 * deleted test, a skip marker), so its CI, coverage and lint components took their defaults.
 * Kept beside `degraded` because the two mean different things: a signal that could not be
 * read, and one that was read but cannot be trusted.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .alterTable('rewards')
    .addColumn('guarded', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
