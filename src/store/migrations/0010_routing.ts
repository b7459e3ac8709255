import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * What routing learns from, kept where the router's book can read it incrementally:
 * - `assignments.counts_against`: 1 for a run that failed (or ended empty) against its agent,
 *   so a failed run is a settled outcome, stamped by `finished_at`, beside the rewards;
 * - `agents.tier_since` and `agents.last_assigned_at`: when the agent entered its tier and
 *   last got a task, for a suspended agent's probation cool-down;
 * - `tasks.pending_since`: when the task last started to wait (a relabel waits anew), for
 *   the P0 fallback;
 * - indexes on the stamps the book tails (`settled_at`, `finished_at`, `updated_at`), and on
 *   open assignments by status first, so the load read before each routing pass touches only
 *   the open ones, not an agent's whole history.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('assignments').addColumn('counts_against', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('agents').addColumn('tier_since', 'text').execute();
  await db.schema.alterTable('agents').addColumn('last_assigned_at', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('pending_since', 'text').execute();
  await db.schema.createIndex('rewards_settled').on('rewards').columns(['settled_at']).execute();
  await db.schema.createIndex('assignments_failed_finished').on('assignments').columns(['counts_against', 'finished_at']).execute();
  await db.schema.createIndex('agents_updated').on('agents').columns(['updated_at']).execute();
  await db.schema.createIndex('assignments_open').on('assignments').columns(['status', 'agent_name']).execute();
}
