/**
 * The `local` forge's state: issues (tasks by a person's id), merge requests (branches),
 * reviews, comments and pipelines. Each change is one statement or one transaction.
 */
import type { Kysely } from 'kysely';
import type {
  Database,
  LocalIssueRow,
  LocalMergeRequestRow,
  LocalMergeRequestState,
  LocalPipelineRow,
  LocalPipelineStatus,
  LocalReviewState,
} from './schema.js';
import { nowIso } from './time.js';

export interface NewLocalIssue {
  repo: string;
  key: string;
  title: string;
  body: string;
  labels: string[];
}

/** Records the issue unless `key` already names one in `repo`; returns it and whether it is new. */
export async function ensureLocalIssue(db: Kysely<Database>, issue: NewLocalIssue): Promise<{ issue: LocalIssueRow; created: boolean }> {
  const inserted = await db
    .insertInto('local_issues')
    .values({ ...issue, labels: JSON.stringify(issue.labels), created_at: nowIso() })
    .onConflict((oc) => oc.columns(['repo', 'key']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { issue: inserted, created: true };
  const existing = await db.selectFrom('local_issues').selectAll().where('repo', '=', issue.repo).where('key', '=', issue.key).executeTakeFirstOrThrow();
  return { issue: existing, created: false };
}

/** The task rows of local issues called `key` (in any repository, newest first). */
export async function localTasksByKey(db: Kysely<Database>, key: string) {
  return db
    .selectFrom('local_issues')
    .innerJoin('tasks', (j) => j.onRef('tasks.issue_number', '=', 'local_issues.id').on('tasks.forge', '=', 'local'))
    .selectAll('tasks')
    .where('local_issues.key', '=', key)
    .orderBy('tasks.id', 'desc')
    .execute();
}

export async function localIssueOfTask(db: Kysely<Database>, taskId: number): Promise<LocalIssueRow | undefined> {
  return db
    .selectFrom('tasks')
    .innerJoin('local_issues', 'local_issues.id', 'tasks.issue_number')
    .selectAll('local_issues')
    .where('tasks.id', '=', taskId)
    .where('tasks.forge', '=', 'local')
    .executeTakeFirst();
}

export async function findLocalMergeRequest(db: Kysely<Database>, repo: string, branch: string): Promise<LocalMergeRequestRow | undefined> {
  return db
    .selectFrom('local_merge_requests')
    .selectAll()
    .where('repo', '=', repo)
    .where('source_branch', '=', branch)
    .where('state', '=', 'open')
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

export async function getLocalMergeRequest(db: Kysely<Database>, repo: string, id: number): Promise<LocalMergeRequestRow | undefined> {
  return db.selectFrom('local_merge_requests').selectAll().where('repo', '=', repo).where('id', '=', id).executeTakeFirst();
}

export async function openLocalMergeRequest(
  db: Kysely<Database>,
  mr: { repo: string; sourceBranch: string; targetBranch: string; title: string; body: string },
): Promise<LocalMergeRequestRow> {
  const now = nowIso();
  return db
    .insertInto('local_merge_requests')
    .values({
      repo: mr.repo,
      source_branch: mr.sourceBranch,
      target_branch: mr.targetBranch,
      title: mr.title,
      body: mr.body,
      state: 'open',
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateLocalMergeRequest(
  db: Kysely<Database>,
  repo: string,
  id: number,
  patch: { title?: string; body?: string; state?: LocalMergeRequestState },
): Promise<LocalMergeRequestRow> {
  const row = await db
    .updateTable('local_merge_requests')
    .set({ ...patch, updated_at: nowIso() })
    .where('repo', '=', repo)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new Error(`local merge request ${id} of ${repo} does not exist`);
  return row;
}

/** A reviewer's standing verdict: a later one replaces their earlier one. */
export async function recordLocalReview(db: Kysely<Database>, mergeRequestId: number, reviewer: string, state: LocalReviewState): Promise<void> {
  const at = nowIso();
  await db
    .insertInto('local_reviews')
    .values({ merge_request_id: mergeRequestId, reviewer, state, at })
    .onConflict((oc) => oc.columns(['merge_request_id', 'reviewer']).doUpdateSet({ state, at }))
    .execute();
}

export async function localReviews(db: Kysely<Database>, mergeRequestId: number) {
  return db.selectFrom('local_reviews').selectAll().where('merge_request_id', '=', mergeRequestId).orderBy('at').execute();
}

/** Creates or edits the comment carrying `marker` on a thread; returns its id. */
export async function upsertLocalComment(db: Kysely<Database>, repo: string, thread: string, marker: string, body: string): Promise<number> {
  const updated_at = nowIso();
  const row = await db
    .insertInto('local_comments')
    .values({ repo, thread, marker, body, updated_at })
    .onConflict((oc) => oc.columns(['repo', 'thread', 'marker']).doUpdateSet({ body, updated_at }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function localComments(db: Kysely<Database>, repo: string, thread: string) {
  return db.selectFrom('local_comments').selectAll().where('repo', '=', repo).where('thread', '=', thread).orderBy('id').execute();
}

export async function recordLocalPipeline(
  db: Kysely<Database>,
  pipeline: { repo: string; ref: string; sha: string; status: LocalPipelineStatus; reports: Record<string, string>; steps: unknown[] },
): Promise<LocalPipelineRow> {
  return db
    .insertInto('local_pipelines')
    .values({
      repo: pipeline.repo,
      ref: pipeline.ref,
      sha: pipeline.sha,
      status: pipeline.status,
      reports: JSON.stringify(pipeline.reports),
      steps: JSON.stringify(pipeline.steps),
      created_at: nowIso(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function getLocalPipeline(db: Kysely<Database>, repo: string, id: number): Promise<LocalPipelineRow | undefined> {
  return db.selectFrom('local_pipelines').selectAll().where('repo', '=', repo).where('id', '=', id).executeTakeFirst();
}

export async function latestLocalPipeline(
  db: Kysely<Database>,
  repo: string,
  ref: string,
  status?: LocalPipelineStatus,
): Promise<LocalPipelineRow | undefined> {
  let q = db.selectFrom('local_pipelines').selectAll().where('repo', '=', repo).where('ref', '=', ref);
  if (status) q = q.where('status', '=', status);
  return q.orderBy('id', 'desc').executeTakeFirst();
}

/** The pipelines run on `ref` at commit `sha`, oldest first. */
export async function localPipelinesAt(db: Kysely<Database>, repo: string, ref: string, sha: string): Promise<LocalPipelineRow[]> {
  return db.selectFrom('local_pipelines').selectAll().where('repo', '=', repo).where('ref', '=', ref).where('sha', '=', sha).orderBy('id').execute();
}

/** The task's reward row, with its components decoded. */
export async function rewardOfTask(db: Kysely<Database>, taskId: number) {
  const row = await db.selectFrom('rewards').selectAll().where('task_id', '=', taskId).orderBy('id', 'desc').executeTakeFirst();
  return row ? { ...row, components: JSON.parse(row.components) as Record<string, number> } : undefined;
}

/** What the task's evaluation could not read (signal → why), from its stored signals. */
export async function missingSignalsOf(db: Kysely<Database>, taskId: number): Promise<Record<string, string>> {
  const row = await db.selectFrom('evaluations').select('signals').where('task_id', '=', taskId).executeTakeFirst();
  const signals = row ? (JSON.parse(row.signals) as { missing?: Record<string, string> } | null) : null;
  return signals?.missing ?? {};
}

/** The agent's tier changes after `afterId` (0 for all), oldest first. */
export async function tierChangesSince(db: Kysely<Database>, agent: string, afterId: number) {
  return db.selectFrom('tier_history').selectAll().where('agent_name', '=', agent).where('id', '>', afterId).orderBy('id').execute();
}

export async function lastTierHistoryId(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('tier_history').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row?.id ?? 0;
}

/** A local issue by its number (the row id) in the repository at `repo`. */
export async function getLocalIssue(db: Kysely<Database>, repo: string, id: number): Promise<LocalIssueRow | undefined> {
  return db.selectFrom('local_issues').selectAll().where('repo', '=', repo).where('id', '=', id).executeTakeFirst();
}
