import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * An index for the newest settled rewards of each agent, in the order the tier rules read them
 * (`updated_at` then `id`, newest first: scanned backwards). `rewards_agent_time` leads with
 * `kind`, so for two settled kinds it cannot give that order without a sort. `kind` and `reward`
 * ride along so the nightly recompute (tiers/recompute.ts) reads the index alone.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createIndex('rewards_agent_recent')
    .on('rewards')
    .columns(['agent_name', 'updated_at', 'id', 'kind', 'reward'])
    .execute();
}
