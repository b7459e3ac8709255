/**
 * Table types for Kysely. Times are ISO-8601 strings and JSON columns are text, so every
 * query reads the same on SQLite and Postgres.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { BudgetStop } from '../runners/runner.js';
import type { CommentKind } from '../forges/event.js';

export type DeliveryStatus = 'pending' | 'processing' | 'done' | 'failed';
/**
 * `publishing`: the run succeeded and its branch is pushed; the merge request is still to be
 * opened or updated. A later pass (or a restart) finishes it; see store/transitions.ts.
 */
export type TaskStatus = 'pending' | 'assigned' | 'in_progress' | 'publishing' | 'completed' | 'failed';
export type AssignmentStatus = 'assigned' | 'in_progress' | 'completed' | 'failed' | 'cancelled';
export type RewardKind = 'manual' | 'provisional' | 'final';
/** A merge request's state as the forge last said when the reward was computed. */
export type MergeRequestState = 'open' | 'merged' | 'closed';

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
  /**
   * The commit a run stopped by its budget left on `branch` (pushed, no MR yet); the escalated
   * run starts from it. Null once the task completes or fails, and when there is none.
   */
  kept_sha: string | null;
  /** Why that run stopped. */
  kept_outcome: BudgetStop | null;
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
  /** Dollars a run may spend (the runner stops it there, as at its token budget); null: tokens only. */
  max_usd: number | null;
  /** The payload time (`updated_at`) of the issue change that started the current attempt. */
  trigger_changed_at: string | null;
  /** Bumped by every change of the row (updateTask and the transitions). */
  revision: Generated<number>;
  /** The revision the issue's comment and labels were last brought in line with. */
  synced_revision: Generated<number | null>;
  /** When the task last started waiting, if not at `created_at` (a relabel): the P0 fallback's clock. */
  pending_since: Generated<string | null>;
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
  /** When the agent entered its tier (null: since it was added); a suspension's probation counts from it. */
  tier_since: Generated<string | null>;
  /** When the agent last got a task. */
  last_assigned_at: Generated<string | null>;
}

/**
 * An assignment is an attempt: one time a task is given to an agent (the first routing, an
 * escalation, a re-queue after an interruption, a relabel). An attempt that publishes records
 * the branch, commit and merge request it published, and gets its own reward row.
 */
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
  /** The branch the attempt's run worked on. */
  branch: string | null;
  /** What the attempt published: the commit pushed and its merge request. */
  head_sha: string | null;
  mr_number: number | null;
  mr_url: string | null;
  /** The agent's closing words, for the MR description (a successful run). */
  summary: Generated<string | null>;
  /** JSON array of the files the run changed (a successful run). */
  changed_files: Generated<string | null>;
  /** JSON array of what the guards flagged in the change (policy/guards.ts), a successful run. */
  guards: Generated<string | null>;
  /** Set on a round: a run of the published attempt `round_of`, started by a review or a red pipeline. */
  round_kind: Generated<RoundKind | null>;
  round_of: Generated<number | null>;
  /** The round's number within its kind, from 1. */
  round: Generated<number | null>;
  /** JSON RoundInput (tasks/rounds.ts): the untrusted feedback its prompt quotes. */
  round_input: Generated<string | null>;
  /** 1 when the run failed or ended empty against its agent: a settled outcome at `finished_at`. */
  counts_against: Generated<number>;
}

/** A round of an attempt: a revision asked for by a reviewer, or a fix of a red pipeline. */
export type RoundKind = 'revision' | 'ci_fix';

/** What started a round, once per key (`review:<id>`, `command:<comment>:<line>`, `ci:<sha>`). */
export interface RoundTriggersTable {
  task_id: number;
  trigger_key: string;
  kind: RoundKind;
  assignment_id: number | null;
  created_at: string;
}

/** A red pipeline's failed jobs, and those of them that fail on the target branch too. */
export interface CiFailuresTable {
  task_id: number;
  head_sha: string;
  pipeline_id: number;
  /** JSON array of job names. */
  failed_jobs: string;
  /** JSON array of job names: failed on the target branch's latest pipeline as well. */
  inherited_jobs: string;
  target_pipeline_id: number | null;
  created_at: string;
}

/**
 * One reward per attempt: provisional while its merge request is open, then final (or an
 * operator's manual reward) and never rewritten. `settled_at` is stamped once, when the reward
 * becomes final or manual; the rolling window reads settled rewards by (`settled_at`, `id`).
 */
export interface RewardsTable {
  id: Generated<number>;
  task_id: number;
  /** The attempt scored; null only for a manual reward on a task the agent never attempted. */
  assignment_id: number | null;
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
  /** 1 when a guard flagged the change: CI, coverage and lint took their defaults. */
  guarded: Generated<number>;
  /** The merge request scored and its state at the evaluation; null for a manual reward. */
  mr_number: number | null;
  mr_state: MergeRequestState | null;
  created_at: string;
  updated_at: string;
  settled_at: string | null;
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

/** What one `/doom` line of one comment came to; see migrations/0008_command_outcomes.ts and 0011_commands.ts. */
export interface CommandOutcomesTable {
  forge: string;
  repo_id: number;
  /** Which id space `comment_id` is from (see forges/event.ts `commentKind`). */
  comment_kind: CommentKind;
  comment_id: number;
  /** 1-based line of the command in the comment. */
  line: number;
  command: string;
  state: 'started' | 'done';
  /** The reply section, once done. */
  reply: string | null;
  actor: string;
  started_at: string;
  finished_at: string | null;
}

/** One person's standing `/doom feedback` on one merge request of a task; see migrations/0011_commands.ts. */
export interface TaskFeedbackTable {
  task_id: number;
  mr_number: number;
  login: string;
  user_id: number;
  vote: 1 | -1;
  text: string | null;
  /** The comment the vote was given in (the latest one, when it was given again). */
  comment_id: number;
  created_at: string;
  updated_at: string;
}
export type TaskFeedbackRow = Selectable<TaskFeedbackTable>;

export interface IssueNoticesTable {
  forge: string;
  repo_id: number;
  issue_number: number;
  kind: NoticeKind;
  comment_id: number;
  posted_at: string;
}

/** A task of the `local` forge, by the id a person gave it (`test-001`); `id` is its issue number. */
export interface LocalIssuesTable {
  id: Generated<number>;
  /** The repository's absolute path. */
  repo: string;
  key: string;
  title: string;
  body: string;
  /** JSON array of strings. */
  labels: string;
  created_at: string;
}

export type LocalMergeRequestState = 'open' | 'closed' | 'merged';

/** The `local` forge's "merge request": a branch of the repository and what was decided on it. */
export interface LocalMergeRequestsTable {
  id: Generated<number>;
  repo: string;
  source_branch: string;
  target_branch: string;
  title: string;
  body: string;
  state: LocalMergeRequestState;
  created_at: string;
  updated_at: string;
}

export type LocalReviewState = 'approved' | 'changes_requested';

export interface LocalReviewsTable {
  merge_request_id: number;
  reviewer: string;
  state: LocalReviewState;
  at: string;
}

export interface LocalCommentsTable {
  id: Generated<number>;
  repo: string;
  /** `issue:<n>` or `merge_request:<n>`. */
  thread: string;
  marker: string;
  body: string;
  updated_at: string;
}

export type LocalPipelineStatus = 'success' | 'failed';

/** One run of a repository's own commands on a commit: the local forge's CI. */
export interface LocalPipelinesTable {
  id: Generated<number>;
  repo: string;
  ref: string;
  sha: string;
  status: LocalPipelineStatus;
  /** JSON object: `<artifact>/<path>` → report text, where the evaluator's report locations look. */
  reports: string;
  /** JSON array: each command's name, exit code and output tail. */
  steps: string;
  created_at: string;
}

/** The seed's hook events (`TaskStart`, `PostToolUse`, `SubagentStop`, `TaskComplete`), per run. */
export type HookEventType = 'TaskStart' | 'PostToolUse' | 'SubagentStop' | 'TaskComplete';

export interface HookEventsTable {
  id: Generated<number>;
  task_id: number | null;
  run_id: number | null;
  agent_name: string;
  type: HookEventType;
  /** JSON object. */
  payload: string;
  at: string;
  /** 1 when the hook did not do its job (see migrations/0013_local.ts). */
  failed: Generated<number>;
}

/** One pipeline execution per attempt (src/pipeline/): its ExecutionState and per-task metrics. */
export interface PipelineExecutionsTable {
  assignment_id: number;
  task_id: number;
  /** JSON: `ExecutionState` of pipeline/schemas.ts. */
  state: string;
  outcome: string | null;
  /** 1/0: the first candidate passed every critical gate; null before review. */
  pass_at_1: number | null;
  /** 1/0: any of the K candidates did (repairs not counted). */
  pass_at_k: number | null;
  candidates: Generated<number>;
  cost_usd: Generated<number>;
  tokens: Generated<number>;
  duration_ms: Generated<number>;
  /** Suite re-runs on the base commit after a candidate and the base disagreed, and how many of them flipped. */
  suite_reruns: Generated<number>;
  flaky_reruns: Generated<number>;
  started_at: string;
  updated_at: string;
}

/** One candidate patch of a pipeline execution: a run of its own, kept whether it won or lost. */
export interface PipelineCandidatesTable {
  id: Generated<number>;
  assignment_id: number;
  task_id: number;
  idx: number;
  agent_name: string;
  variant: string;
  outcome: string;
  error: string | null;
  commit_sha: string | null;
  patch: string | null;
  patch_hash: string | null;
  cluster: number | null;
  diff_lines: number;
  tokens: number;
  cost_usd: number;
  turns: number;
  duration_ms: number;
  transcript: string | null;
  summary: string | null;
  /** JSON: `Checks` of pipeline/schemas.ts. */
  checks: string | null;
  passed: number;
  selected: number;
  created_at: string;
}

/** A head-to-head outcome between two candidates of different agents on the same task. */
export interface PipelinePairsTable {
  id: Generated<number>;
  assignment_id: number;
  task_id: number;
  winner_idx: number;
  loser_idx: number;
  winner_agent: string;
  loser_agent: string;
  reason: string;
  created_at: string;
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
  local_issues: LocalIssuesTable;
  local_merge_requests: LocalMergeRequestsTable;
  local_reviews: LocalReviewsTable;
  local_comments: LocalCommentsTable;
  local_pipelines: LocalPipelinesTable;
  hook_events: HookEventsTable;
  command_outcomes: CommandOutcomesTable;
  task_feedback: TaskFeedbackTable;
  round_triggers: RoundTriggersTable;
  ci_failures: CiFailuresTable;
  pipeline_executions: PipelineExecutionsTable;
  pipeline_candidates: PipelineCandidatesTable;
  pipeline_pairs: PipelinePairsTable;
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
export type LocalIssueRow = Selectable<LocalIssuesTable>;
export type LocalMergeRequestRow = Selectable<LocalMergeRequestsTable>;
export type LocalPipelineRow = Selectable<LocalPipelinesTable>;
export type HookEventRow = Selectable<HookEventsTable>;
export type PipelineExecutionRow = Selectable<PipelineExecutionsTable>;
export type PipelineCandidateRow = Selectable<PipelineCandidatesTable>;
export type PipelinePairRow = Selectable<PipelinePairsTable>;
