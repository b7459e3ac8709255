/**
 * Table types for Kysely. Times are ISO-8601 strings and JSON columns are text, so every
 * query reads the same on SQLite and Postgres.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export type DeliveryStatus = 'pending' | 'processing' | 'done' | 'failed';
/**
 * `publishing`: the run succeeded and its branch is pushed; the merge request is still to be
 * opened or updated. A later pass (or a restart) finishes it; see store/transitions.ts.
 */
export type TaskStatus = 'pending' | 'assigned' | 'in_progress' | 'publishing' | 'completed' | 'failed';
export type AssignmentStatus = 'assigned' | 'in_progress' | 'completed' | 'failed' | 'cancelled';
export type RewardKind = 'manual' | 'provisional' | 'final';

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  forge: string;
  delivery_id: string;
  event: string;
  body: string;
  received_at: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  processed_at: string | null;
}

export interface TasksTable {
  id: Generated<number>;
  forge: string;
  installation_id: number | null;
  repo_id: number;
  repo: string;
  repo_url: string;
  clone_url: string;
  default_branch: string;
  issue_number: number;
  issue_url: string;
  title: string;
  description: string;
  type: string;
  priority: string;
  /** JSON array of strings. */
  tags: string;
  max_tokens: number;
  timeout_ms: number;
  forced_agent: string | null;
  status: TaskStatus;
  assigned_agent: string | null;
  pending_reason: string | null;
  /** Id of the task's one sticky comment on the issue. */
  comment_id: number | null;
  /** Hash of what the forge shows in that comment and labels; a change means "sync again". */
  comment_hash: string | null;
  /** `doom/<id>-<slug>`, once a run has pushed it. */
  branch: string | null;
  /** The commit the bot pushed last: pipelines for other commits are not this task's. */
  head_sha: string | null;
  /** Escalation floor: after a timeout or a token limit only this tier or above may take it. */
  min_tier: string | null;
  review_app_url: string | null;
  pr_url: string | null;
  pr_number: number | null;
  error_message: string | null;
  tokens_used: number;
  cost_usd: number;
  duration_ms: number;
  escalations: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  /** Bumped by every change of the row (updateTask and the transitions). */
  revision: Generated<number>;
  /** The revision the issue's comment and labels were last brought in line with. */
  synced_revision: Generated<number | null>;
}

export interface AgentsTable {
  name: string;
  tier: string;
  /** JSON array of task types. */
  specializations: string;
  max_concurrent_tasks: number;
  /** The agent file as loaded, JSON. */
  config: string;
  rolling_avg: number;
  total_tasks: number;
  completed_tasks: number;
  failed_tasks: number;
  /** 'suspended' or 'promoted' while an operator's decision stands; see tiers/rules.ts. */
  manual_override: string | null;
  /** 1 while a file in config/agents defines the agent. */
  active: number;
  created_at: string;
  updated_at: string;
}

export interface AssignmentsTable {
  id: Generated<number>;
  task_id: number;
  agent_name: string;
  status: AssignmentStatus;
  /** JSON array of the router's reasons. */
  reasons: string;
  assigned_at: string;
  started_at: string | null;
  finished_at: string | null;
  outcome: string | null;
  error: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_tokens: number;
  cost_usd: number;
  turns: number;
  transcript: string | null;
  /** The agent's closing words, for the MR description (a successful run). */
  summary: Generated<string | null>;
  /** JSON array of the files the run changed (a successful run). */
  changed_files: Generated<string | null>;
}

export interface RewardsTable {
  id: Generated<number>;
  task_id: number;
  agent_name: string;
  reward: number;
  /** JSON object: component → value. */
  components: string;
  /** JSON object: weight key → weight. */
  weights: string;
  evaluator_version: string;
  hook_duration_ms: number;
  kind: RewardKind;
  degraded: number;
  created_at: string;
  updated_at: string;
}

/** What the evaluator knows of a task's merge request, kept between the events that feed it. */
export interface EvaluationsTable {
  task_id: number;
  /** The head commit these signals are for. */
  head_sha: string;
  /** The pipeline the stored signals came from; an older one is ignored. */
  pipeline_id: number | null;
  pipeline_status: string | null;
  /** JSON: the pipeline-derived signals (see rewards/evaluator.ts). */
  signals: string;
  /** Evaluations that failed; the previous reward stood each time. */
  errors: number;
  last_error: string | null;
  updated_at: string;
}

export interface TierHistoryTable {
  id: Generated<number>;
  agent_name: string;
  from_tier: string;
  to_tier: string;
  reason: string;
  source: string;
  rolling_avg: number | null;
  created_at: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  event: string;
  actor: string;
  task_id: number | null;
  agent_name: string | null;
  /** JSON object. */
  data: string;
}

/** `trigger_refused`: who may start the bot, after a label or edit from someone else. */
export type NoticeKind = 'trigger_refused';

export interface IssueNoticesTable {
  forge: string;
  repo_id: number;
  issue_number: number;
  kind: NoticeKind;
  comment_id: number;
  posted_at: string;
}

export interface Database {
  webhook_deliveries: WebhookDeliveriesTable;
  tasks: TasksTable;
  agents: AgentsTable;
  assignments: AssignmentsTable;
  rewards: RewardsTable;
  evaluations: EvaluationsTable;
  tier_history: TierHistoryTable;
  audit_log: AuditLogTable;
  issue_notices: IssueNoticesTable;
}

export type Delivery = Selectable<WebhookDeliveriesTable>;
export type TaskRow = Selectable<TasksTable>;
export type NewTask = Insertable<TasksTable>;
export type TaskUpdate = Updateable<TasksTable>;
export type AgentRow = Selectable<AgentsTable>;
export type AssignmentRow = Selectable<AssignmentsTable>;
export type RewardRow = Selectable<RewardsTable>;
export type EvaluationRow = Selectable<EvaluationsTable>;
export type TierHistoryRow = Selectable<TierHistoryTable>;
export type AuditRow = Selectable<AuditLogTable>;
