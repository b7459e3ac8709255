/**
 * zod schemas for the parts of GitHub webhook payloads the bot reads. Lenient by design:
 * unknown fields are ignored, fields GitHub documents as nullable are nullable, and nothing
 * we do not read is checked, so a new GitHub field never breaks delivery.
 */
import { z } from 'zod';

const id = z.number().int();
const positiveNumber = z.number().int().positive();

export const user = z.object({
  id,
  login: z.string(),
  /** `User`, `Bot` or `Organization`. */
  type: z.string().optional(),
});
export type GitHubUser = z.infer<typeof user>;

export const repository = z.object({
  id,
  full_name: z.string().min(1),
  default_branch: z.string().min(1),
  html_url: z.string(),
  clone_url: z.string(),
});
export type GitHubRepository = z.infer<typeof repository>;

const label = z.object({ name: z.string() });

/**
 * Every event we read carries these; `installation` only on App deliveries. `action` is read
 * before parsing (it decides whether the event is handled at all).
 */
const envelope = {
  repository,
  sender: user,
  installation: z.object({ id }).nullish(),
};

export const issue = z.object({
  number: positiveNumber,
  title: z.string(),
  body: z.string().nullish(),
  labels: z.array(label).nullish(),
  html_url: z.string(),
  state: z.enum(['open', 'closed']),
  user,
  /** Present (an object of URLs) when the "issue" is a pull request. */
  pull_request: z.object({}).nullish(),
});

export const issuesPayload = z.object({
  ...envelope,
  issue,
  label: label.nullish(),
});

export const issueCommentPayload = z.object({
  ...envelope,
  issue: z.object({ number: positiveNumber, pull_request: z.object({}).nullish() }),
  comment: z.object({ id, body: z.string(), html_url: z.string(), user }),
});

export const pullRequestPayload = z.object({
  ...envelope,
  pull_request: z.object({
    number: positiveNumber,
    title: z.string(),
    body: z.string().nullish(),
    html_url: z.string(),
    merged: z.boolean().nullish(),
    head: z.object({ ref: z.string(), sha: z.string() }),
    base: z.object({ ref: z.string() }),
    user,
    labels: z.array(label).nullish(),
  }),
});

export const pullRequestReviewPayload = z.object({
  ...envelope,
  review: z.object({
    /** Its comments are read by it (a changes request quotes them to the agent). */
    id: z.number().int().optional(),
    /** Lower case in webhooks (`approved`), upper case in the REST API. */
    state: z.string(),
    commit_id: z.string().nullish(),
    /** Null for a deleted account. */
    user: user.nullish(),
  }),
  pull_request: z.object({ number: positiveNumber, head: z.object({ sha: z.string() }) }),
});

const pullRequestRefs = z.array(z.object({ number: positiveNumber }));

export const checkSuitePayload = z.object({
  ...envelope,
  check_suite: z.object({
    id,
    conclusion: z.string().nullable(),
    head_sha: z.string(),
    head_branch: z.string().nullable(),
    pull_requests: pullRequestRefs,
    app: z.object({ id, slug: z.string().nullish() }).nullish(),
  }),
});

export const workflowRunPayload = z.object({
  ...envelope,
  workflow_run: z.object({
    id,
    conclusion: z.string().nullable(),
    head_sha: z.string(),
    head_branch: z.string().nullable(),
    html_url: z.string(),
    pull_requests: pullRequestRefs,
  }),
});

/** A commit status (`status` event): no `action`, no branch, one verdict per `context`. */
export const statusPayload = z.object({
  ...envelope,
  id,
  sha: z.string(),
  /** pending, success, failure or error. */
  state: z.string(),
  context: z.string(),
  target_url: z.string().nullish(),
});

export const deploymentStatusPayload = z.object({
  ...envelope,
  deployment_status: z.object({
    state: z.string(),
    environment: z.string().nullish(),
    environment_url: z.string().nullish(),
    target_url: z.string().nullish(),
  }),
  deployment: z.object({ ref: z.string(), sha: z.string(), environment: z.string() }),
});
