import type { Kysely } from 'kysely';
import { idColumn, type Dialect } from './columns.js';

/** The first schema: inbox, tasks, agents, assignments, rewards, tier history, audit log. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = idColumn(dialect);
  const ext = dialect === 'postgres' ? 'bigint' : 'integer';

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', id.type, id.build)
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('delivery_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('processed_at', 'text')
    .addUniqueConstraint('webhook_deliveries_forge_delivery', ['forge', 'delivery_id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', id.type, id.build)
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('installation_id', ext)
    .addColumn('repo_id', ext, (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('repo_url', 'text', (c) => c.notNull())
    .addColumn('clone_url', 'text', (c) => c.notNull())
    .addColumn('default_branch', 'text', (c) => c.notNull())
    .addColumn('issue_number', 'integer', (c) => c.notNull())
    .addColumn('issue_url', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('max_tokens', 'integer', (c) => c.notNull())
    .addColumn('timeout_ms', 'integer', (c) => c.notNull())
    .addColumn('forced_agent', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('assigned_agent', 'text')
    .addColumn('pending_reason', 'text')
    .addColumn('comment_id', ext)
    .addColumn('comment_hash', 'text')
    .addColumn('branch', 'text')
    .addColumn('head_sha', 'text')
    .addColumn('min_tier', 'text')
    .addColumn('review_app_url', 'text')
    .addColumn('pr_url', 'text')
    .addColumn('pr_number', 'integer')
    .addColumn('error_message', 'text')
    .addColumn('tokens_used', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('duration_ms', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('escalations', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .addUniqueConstraint('tasks_issue', ['forge', 'repo_id', 'issue_number'])
    .execute();
  await db.schema.createIndex('tasks_status').on('tasks').columns(['status', 'id']).execute();

  await db.schema
    .createTable('agents')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('specializations', 'text', (c) => c.notNull())
    .addColumn('max_concurrent_tasks', 'integer', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('rolling_avg', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('total_tasks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('completed_tasks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed_tasks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('manual_override', 'text')
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('assignments')
    .addColumn('id', id.type, id.build)
    .addColumn('task_id', 'integer', (c) => c.notNull().references('tasks.id'))
    .addColumn('agent_name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reasons', 'text', (c) => c.notNull())
    .addColumn('assigned_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('outcome', 'text')
    .addColumn('error', 'text')
    .addColumn('input_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('turns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('transcript', 'text')
    .execute();
  await db.schema.createIndex('assignments_agent_status').on('assignments').columns(['agent_name', 'status']).execute();
  await db.schema.createIndex('assignments_task').on('assignments').columns(['task_id']).execute();

  await db.schema
    .createTable('rewards')
    .addColumn('id', id.type, id.build)
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('agent_name', 'text', (c) => c.notNull())
    .addColumn('reward', 'double precision', (c) => c.notNull())
    .addColumn('components', 'text', (c) => c.notNull())
    .addColumn('weights', 'text', (c) => c.notNull())
    .addColumn('evaluator_version', 'text', (c) => c.notNull())
    .addColumn('hook_duration_ms', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('degraded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('rewards_task_agent', ['task_id', 'agent_name'])
    .execute();
  await db.schema.createIndex('rewards_agent_time').on('rewards').columns(['agent_name', 'kind', 'updated_at']).execute();

  await db.schema
    .createTable('evaluations')
    .addColumn('task_id', 'integer', (c) => c.primaryKey())
    .addColumn('head_sha', 'text', (c) => c.notNull())
    .addColumn('pipeline_id', ext)
    .addColumn('pipeline_status', 'text')
    .addColumn('signals', 'text', (c) => c.notNull())
    .addColumn('errors', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tier_history')
    .addColumn('id', id.type, id.build)
    .addColumn('agent_name', 'text', (c) => c.notNull())
    .addColumn('from_tier', 'text', (c) => c.notNull())
    .addColumn('to_tier', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('rolling_avg', 'double precision')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tier_history_agent').on('tier_history').columns(['agent_name', 'id']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', id.type, id.build)
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('task_id', 'integer')
    .addColumn('agent_name', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_agent').on('audit_log').columns(['agent_name', 'id']).execute();
}
