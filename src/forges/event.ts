/**
 * The one event shape every forge payload is normalized into. Handlers downstream of the
 * inbox only ever see these, never a GitHub or GitLab payload.
 */
import { z } from 'zod';

export const forgeKind = z.enum(['github', 'gitlab', 'local']);
export type ForgeKind = z.infer<typeof forgeKind>;

/** Who acted. `isBot` is true for GitHub `Bot` accounts and GitLab bot users. */
export const actor = z.object({
  id: z.number().int(),
  login: z.string(),
  isBot: z.boolean(),
});
export type Actor = z.infer<typeof actor>;

/**
 * The repository (GitHub) or project (GitLab). `fullName` is `owner/name` or the GitLab
 * `path_with_namespace`; `id` is the numeric repository / project id.
 */
export const repoRef = z.object({
  id: z.number().int(),
  fullName: z.string().min(1),
  defaultBranch: z.string().min(1),
  webUrl: z.string(),
  cloneUrl: z.string(),
});
export type RepoRef = z.infer<typeof repoRef>;

const base = {
  forge: forgeKind,
  /** GitHub App installation the delivery came through; absent on GitLab. */
  installationId: z.number().int().optional(),
  repo: repoRef,
  sender: actor,
};

export const issueAction = z.enum(['opened', 'closed', 'reopened', 'labeled', 'unlabeled', 'edited']);

export const issueInfo = z.object({
  /** GitHub issue number, GitLab issue `iid`: what people type after `#`. */
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string(),
  labels: z.array(z.string()),
  url: z.string(),
  state: z.enum(['open', 'closed']),
  author: actor,
});
export type IssueInfo = z.infer<typeof issueInfo>;

export const issueEvent = z.object({
  ...base,
  kind: z.literal('issue'),
  action: issueAction,
  issue: issueInfo,
  /** The label added or removed, for `labeled` / `unlabeled`. */
  label: z.string().optional(),
  /**
   * When the issue changed, by the payload (the issue's `updated_at`, ISO 8601): a webhook
   * redelivered with a new id carries the old time, a new change a later one.
   */
  changedAt: z.string().optional(),
});

/**
 * `{ changedAt }` from a payload's `updated_at`, in ISO 8601 (GitLab's older hooks write
 * `2013-12-03 17:15:43 UTC`); nothing when it is absent or unreadable.
 */
export function changedAt(stamp: string | null | undefined): { changedAt?: string } {
  const time = stamp ? Date.parse(stamp) : Number.NaN;
  return Number.isNaN(time) ? {} : { changedAt: new Date(time).toISOString() };
}

/**
 * Where a comment's text lives, since each has its own id space and its own reaction API:
 * `comment` is a GitHub issue or PR conversation comment and every GitLab note (discussion
 * replies and diff notes included); `review` a GitHub review's body; `review_comment` a
 * GitHub inline review comment.
 */
export const commentKind = z.enum(['comment', 'review', 'review_comment']);
export type CommentKind = z.infer<typeof commentKind>;

export const commentEvent = z.object({
  ...base,
  kind: z.literal('comment'),
  action: z.literal('created'),
  /** Whether the comment sits on an issue or on a pull/merge request. */
  target: z.enum(['issue', 'merge_request']),
  number: z.number().int().positive(),
  comment: z.object({
    id: z.number().int(),
    kind: commentKind.default('comment'),
    body: z.string(),
    url: z.string(),
    author: actor,
    /** A GitLab diff or discussion note: a thread a reviewer opens for the author to resolve. */
    reviewNote: z.boolean().optional(),
  }),
});

export const mergeRequestInfo = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string(),
  url: z.string(),
  sourceBranch: z.string(),
  targetBranch: z.string(),
  headSha: z.string(),
  author: actor,
  labels: z.array(z.string()),
});
export type MergeRequestInfo = z.infer<typeof mergeRequestInfo>;

export const mergeRequestEvent = z.object({
  ...base,
  kind: z.literal('merge_request'),
  action: z.enum(['opened', 'updated', 'merged', 'closed', 'reopened']),
  mergeRequest: mergeRequestInfo,
});

/**
 * A reviewer's verdict changed, however the forge tells it: a GitHub review submitted or
 * dismissed, a GitLab approval or a reviewer state in a Merge Request Hook `update`. The
 * state is a hint; the evaluator reads every standing verdict from the forge again.
 */
export const reviewEvent = z.object({
  ...base,
  kind: z.literal('review'),
  action: z.enum(['submitted', 'dismissed']),
  state: z.enum(['approved', 'changes_requested', 'commented', 'unapproved', 'dismissed']),
  number: z.number().int().positive(),
  headSha: z.string().optional(),
  /** GitHub's review id: its body and inline comments are read by it. GitLab verdicts have none. */
  reviewId: z.number().int().optional(),
  reviewer: actor,
});

export const pipelineStatus = z.enum(['success', 'failed', 'canceled', 'skipped', 'neutral']);

/**
 * Which CI sequence a pipeline event belongs to, and so how it is read. Ids are compared only
 * within one sequence: a check suite id and a workflow run id are different counters. Only
 * a workflow run and a GitLab pipeline keep report artifacts the bot can read; a check suite
 * of another App (Codecov, CircleCI…) and a commit status give a verdict and nothing else.
 */
export const pipelineOrigin = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('workflow_run') }),
  /** `app`: the GitHub App's slug, or its id when the payload has no slug. */
  z.object({ kind: z.literal('check_suite'), app: z.string().min(1) }),
  z.object({ kind: z.literal('commit_status'), context: z.string() }),
  /** `source`: GitLab's pipeline source (`push`, `merge_request_event`…), when the hook says. */
  z.object({ kind: z.literal('gitlab_pipeline'), source: z.string().nullable() }),
  /** The `local` forge's pipeline: the repository's own commands, run by the bot. */
  z.object({ kind: z.literal('local') }),
]);
export type PipelineOrigin = z.infer<typeof pipelineOrigin>;

export const pipelineEvent = z.object({
  ...base,
  kind: z.literal('pipeline'),
  action: z.literal('completed'),
  status: pipelineStatus,
  origin: pipelineOrigin,
  /** GitHub check suite / workflow run / commit status id; GitLab pipeline id. */
  pipelineId: z.number().int(),
  sha: z.string(),
  /** The branch (or GitLab ref) it ran for; empty for a commit status, which has none. */
  ref: z.string(),
  /** Pull/merge request numbers the pipeline ran for, when the forge says. */
  mergeRequestNumbers: z.array(z.number().int().positive()),
  url: z.string(),
  /** Coverage percentage the forge computed (GitLab's `coverage`), when it has one. */
  coverage: z.number().nullable(),
});

export const deploymentEvent = z.object({
  ...base,
  kind: z.literal('deployment'),
  action: z.literal('status'),
  status: z.enum(['pending', 'running', 'success', 'failed', 'canceled', 'inactive']),
  environment: z.string(),
  /** The environment's URL; null while the forge does not know it. */
  environmentUrl: z.string().nullable(),
  ref: z.string(),
  sha: z.string(),
});

export const forgeEvent = z.discriminatedUnion('kind', [
  issueEvent,
  commentEvent,
  mergeRequestEvent,
  reviewEvent,
  pipelineEvent,
  deploymentEvent,
]);

export type ForgeEvent = z.infer<typeof forgeEvent>;
export type IssueEvent = z.infer<typeof issueEvent>;
export type CommentEvent = z.infer<typeof commentEvent>;
export type MergeRequestEvent = z.infer<typeof mergeRequestEvent>;
export type ReviewEvent = z.infer<typeof reviewEvent>;
export type PipelineEvent = z.infer<typeof pipelineEvent>;
/** A finished pipeline as the forge lists it (the evaluator reads these before a reward settles). */
export type PipelineRun = Pick<PipelineEvent, 'status' | 'origin' | 'pipelineId' | 'sha' | 'ref' | 'mergeRequestNumbers' | 'url' | 'coverage'>;
export type DeploymentEvent = z.infer<typeof deploymentEvent>;
