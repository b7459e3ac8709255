import { sql, type Kysely } from 'kysely';
import { idColumn, type Dialect } from './columns.js';

/**
 * A reward per attempt (an assignment), stamped once when it settles.
 *
 * - assignments record what the attempt published: branch, commit, merge request;
 * - rewards lose their one-row-per-(task, agent) constraint and gain `assignment_id` (unique),
 *   `mr_number`, `mr_state` and `settled_at`; the window's index moves from `updated_at` to
 *   `settled_at`.
 *
 * Existing rows: a task's branch goes to all its assignments, its merge request and head to its
 * newest completed one; each reward goes to the newest assignment of its (task, agent), one that
 * published when there is one. A settled reward's `settled_at` is its `updated_at` (the best
 * evidence there is), and a final reward's merge request state comes from the audit log's
 * `reward.final` triggers (merged wins over closed; neither leaves it unknown).
 *
 * SQLite cannot drop a table constraint, so there the rewards table is rebuilt, ids kept.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('assignments').addColumn('branch', 'text').execute();
  await db.schema.alterTable('assignments').addColumn('head_sha', 'text').execute();
  await db.schema.alterTable('assignments').addColumn('mr_number', 'integer').execute();
  await db.schema.alterTable('assignments').addColumn('mr_url', 'text').execute();

  await sql`update assignments set branch = (select t.branch from tasks t where t.id = assignments.task_id)`.execute(db);
  await sql`
    update assignments
    set head_sha = (select t.head_sha from tasks t where t.id = assignments.task_id),
        mr_number = (select t.pr_number from tasks t where t.id = assignments.task_id),
        mr_url = (select t.pr_url from tasks t where t.id = assignments.task_id)
    where id = (select max(a.id) from assignments a where a.task_id = assignments.task_id and a.status = 'completed')
      and exists (select 1 from tasks t where t.id = assignments.task_id and t.pr_number is not null)`.execute(db);

  if (dialect === 'sqlite') await rebuildSqliteRewards(db);
  else await alterPostgresRewards(db);

  await sql`
    update rewards
    set assignment_id = coalesce(
      (select max(a.id) from assignments a
        where a.task_id = rewards.task_id and a.agent_name = rewards.agent_name and a.mr_number is not null),
      (select max(a.id) from assignments a where a.task_id = rewards.task_id and a.agent_name = rewards.agent_name))`.execute(db);
  await sql`
    update rewards set mr_number = (select t.pr_number from tasks t where t.id = rewards.task_id)
    where kind <> 'manual'`.execute(db);
  await sql`update rewards set mr_state = 'open' where kind = 'provisional'`.execute(db);
  const finalVia = (trigger: string) => sql`exists (
    select 1 from audit_log l
    where l.task_id = rewards.task_id and l.agent_name = rewards.agent_name and l.event = 'reward.final'
      and l.data like ${`%"trigger":"${trigger}"%`})`;
  await sql`
    update rewards
    set mr_state = case when ${finalVia('merged')} then 'merged' when ${finalVia('closed')} then 'closed' else null end
    where kind = 'final'`.execute(db);
  await sql`update rewards set settled_at = updated_at where kind in ('final', 'manual')`.execute(db);

  await db.schema.createIndex('rewards_assignment').on('rewards').column('assignment_id').unique().execute();
  await db.schema.createIndex('rewards_task').on('rewards').column('task_id').execute();
  // The window's order, newest first scanned backwards; `kind` and `reward` ride along so the
  // nightly recompute (tiers/recompute.ts) reads the index alone.
  await db.schema
    .createIndex('rewards_agent_settled')
    .on('rewards')
    .columns(['agent_name', 'settled_at', 'id', 'kind', 'reward'])
    .execute();
  await db.schema.createIndex('assignments_task_mr').on('assignments').columns(['task_id', 'mr_number']).execute();
}

const copied = [
  'id',
  'task_id',
  'agent_name',
  'reward',
  'components',
  'weights',
  'evaluator_version',
  'hook_duration_ms',
  'kind',
  'degraded',
  'created_at',
  'updated_at',
];

async function rebuildSqliteRewards(db: Kysely<unknown>): Promise<void> {
  const id = idColumn('sqlite');
  await db.schema
    .createTable('rewards_v3')
    .addColumn('id', id.type, id.build)
    .addColumn('task_id', 'integer', (c) => c.notNull())
    .addColumn('assignment_id', 'integer')
    .addColumn('agent_name', 'text', (c) => c.notNull())
    .addColumn('reward', 'double precision', (c) => c.notNull())
    .addColumn('components', 'text', (c) => c.notNull())
    .addColumn('weights', 'text', (c) => c.notNull())
    .addColumn('evaluator_version', 'text', (c) => c.notNull())
    .addColumn('hook_duration_ms', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('degraded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('mr_number', 'integer')
    .addColumn('mr_state', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('settled_at', 'text')
    .execute();
  const columns = sql.join(copied.map((c) => sql.ref(c)));
  await sql`insert into rewards_v3 (${columns}) select ${columns} from rewards`.execute(db);
  await db.schema.dropTable('rewards').execute();
  await db.schema.alterTable('rewards_v3').renameTo('rewards').execute();
}

async function alterPostgresRewards(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('rewards').dropConstraint('rewards_task_agent').execute();
  await db.schema.dropIndex('rewards_agent_time').execute();
  await db.schema.dropIndex('rewards_agent_recent').execute();
  await db.schema.alterTable('rewards').addColumn('assignment_id', 'integer').execute();
  await db.schema.alterTable('rewards').addColumn('mr_number', 'integer').execute();
  await db.schema.alterTable('rewards').addColumn('mr_state', 'text').execute();
  await db.schema.alterTable('rewards').addColumn('settled_at', 'text').execute();
}
