import type { Kysely } from 'kysely';
import { idColumn, type Dialect } from './columns.js';

/**
 * The pipeline (src/pipeline/): per attempt, its `ExecutionState` (JSON, the schema in
 * pipeline/schemas.ts) with the per-task metrics beside it as columns for /metrics to sum;
 * every candidate as a row of its own (usage, transcript, patch, checks), winners and losers
 * alike; and the head-to-head outcomes between candidates of different agents, for the router.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = idColumn(dialect);
  await db.schema
    .createTable('pipeline_executions')
    .addColumn('assignment_id', 'integer', (c) => c.primaryKey())
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text')
    .addColumn('pass_at_1', 'integer')
    .addColumn('pass_at_k', 'integer')
    .addColumn('candidates', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('duration_ms', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('suite_reruns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('flaky_reruns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pipeline_executions_task').on('pipeline_executions').column('task_id').execute();
  await db.schema
    .createTable('pipeline_candidates')
    .addColumn('id', id.type, id.build)
    .addColumn('assignment_id', 'integer', (c) => c.notNull())
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('agent_name', 'text', (c) => c.notNull())
    .addColumn('variant', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('commit_sha', 'text')
    .addColumn('patch', 'text')
    .addColumn('patch_hash', 'text')
    .addColumn('cluster', 'integer')
    .addColumn('diff_lines', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('turns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('duration_ms', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('transcript', 'text')
    .addColumn('summary', 'text')
    .addColumn('checks', 'text')
    .addColumn('passed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('selected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('pipeline_candidates_attempt_idx', ['assignment_id', 'idx'])
    .execute();
  await db.schema.createIndex('pipeline_candidates_agent').on('pipeline_candidates').columns(['agent_name', 'id']).execute();
  await db.schema
    .createTable('pipeline_pairs')
    .addColumn('id', id.type, id.build)
    .addColumn('assignment_id', 'integer', (c) => c.notNull())
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('winner_idx', 'integer', (c) => c.notNull())
    .addColumn('loser_idx', 'integer', (c) => c.notNull())
    .addColumn('winner_agent', 'text', (c) => c.notNull())
    .addColumn('loser_agent', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('pipeline_pairs_attempt_pair', ['assignment_id', 'winner_idx', 'loser_idx'])
    .execute();
}
