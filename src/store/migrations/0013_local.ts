import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * A hook event that failed (a `doom evaluate` that recorded no reward, say) is marked, so
 * `doom_hooks_failed_total{hook}` counts it by hook; the seed's rule is that a failed hook is
 * logged and the work goes on.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('hook_events').addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
