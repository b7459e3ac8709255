import type { Kysely } from 'kysely';
import type { Dialect } from './columns.js';

/**
 * Review rounds and CI fixes (tasks/revisions.ts, tasks/ci-fixes.ts):
 * - a round is a run of the attempt that published the merge request, one assignment row each
 *   (its own tokens, cost and duration): `round_kind` (`revision` | `ci_fix`), `round_of` (the
 *   attempt's assignment id), `round` (its number within that kind) and `round_input` (JSON:
 *   the review comments or the job log excerpt, quoted as untrusted text in the prompt);
 * - `round_triggers` holds what started a round (a review, a comment's command line, a head
 *   commit's red pipeline), so a redelivered event never starts a second one;
 * - `ci_failures` holds what a red pipeline's failed jobs were and which of them also fail on
 *   the target branch: those are not the agent's doing, and the evaluator does not count them.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('assignments').addColumn('round_kind', 'text').execute();
  await db.schema.alterTable('assignments').addColumn('round_of', 'integer').execute();
  await db.schema.alterTable('assignments').addColumn('round', 'integer').execute();
  await db.schema.alterTable('assignments').addColumn('round_input', 'text').execute();
  await db.schema.createIndex('assignments_round_of').on('assignments').columns(['round_of', 'round_kind']).execute();

  await db.schema
    .createTable('round_triggers')
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('trigger_key', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('assignment_id', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('round_triggers_pk', ['task_id', 'trigger_key'])
    .execute();

  await db.schema
    .createTable('ci_failures')
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('head_sha', 'text', (c) => c.notNull())
    .addColumn('pipeline_id', 'bigint', (c) => c.notNull())
    .addColumn('failed_jobs', 'text', (c) => c.notNull())
    .addColumn('inherited_jobs', 'text', (c) => c.notNull())
    .addColumn('target_pipeline_id', 'bigint')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('ci_failures_pk', ['task_id', 'pipeline_id'])
    .execute();
}
