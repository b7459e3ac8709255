/**
 * zod schemas for the parts of GitLab webhook payloads the bot reads. Lenient by design:
 * unknown fields are ignored and only what we read is checked (GitLab's documented examples
 * themselves carry odd timestamps and URLs in fields we do not need).
 */
import { z } from 'zod';

const id = z.number().int();
const iid = z.number().int().positive();

export const user = z.object({
  id,
  username: z.string(),
  /** Not in GitLab's documented payloads; honoured when a version sends it. */
  bot: z.boolean().nullish(),
});
export type GitLabUser = z.infer<typeof user>;

export const project = z.object({
  id,
  path_with_namespace: z.string().min(1),
  /** Null for a project whose repository is still empty. */
  default_branch: z.string().nullish(),
  web_url: z.string(),
  git_http_url: z.string(),
});
export type GitLabProject = z.infer<typeof project>;

const label = z.object({ title: z.string() });
export type GitLabLabel = z.infer<typeof label>;

const envelope = { object_kind: z.string(), user, project };

export const issueHook = z.object({
  ...envelope,
  object_attributes: z.object({
    iid,
    title: z.string(),
    description: z.string().nullish(),
    url: z.string(),
    state: z.string(),
    action: z.string().nullish(),
    author_id: id,
    labels: z.array(label).nullish(),
    updated_at: z.string().nullish(),
  }),
  /** Top-level labels: the issue's labels after the change. */
  labels: z.array(label).nullish(),
  changes: z
    .object({
      labels: z.object({ previous: z.array(label).nullish(), current: z.array(label).nullish() }).nullish(),
    })
    .nullish(),
});
export type GitLabIssueHook = z.infer<typeof issueHook>;

export const noteHook = z.object({
  ...envelope,
  object_attributes: z.object({
    id,
    note: z.string(),
    noteable_type: z.string(),
    url: z.string(),
    action: z.string().nullish(),
    /** `DiffNote` (on a line of the change), `DiscussionNote` (a thread), null for a plain comment. */
    type: z.string().nullish(),
  }),
  issue: z.object({ iid }).nullish(),
  merge_request: z.object({ iid }).nullish(),
});

/** A reviewer as Merge Request Hooks list them; `state` since GitLab 18.x (`unreviewed`, `requested_changes`…). */
const reviewer = user.extend({ state: z.string().nullish() });
export type GitLabReviewer = z.infer<typeof reviewer>;

export const mergeRequestHook = z.object({
  ...envelope,
  object_attributes: z.object({
    iid,
    title: z.string(),
    description: z.string().nullish(),
    url: z.string(),
    source_branch: z.string(),
    target_branch: z.string(),
    author_id: id,
    action: z.string().nullish(),
    last_commit: z.object({ id: z.string() }).nullish(),
    labels: z.array(label).nullish(),
  }),
  labels: z.array(label).nullish(),
  /** On `update`: what changed. A submitted review or a re-request changes `reviewers`. */
  changes: z
    .object({
      reviewers: z.object({ previous: z.array(reviewer).nullish(), current: z.array(reviewer).nullish() }).nullish(),
    })
    .nullish(),
});

export const pipelineHook = z.object({
  ...envelope,
  object_attributes: z.object({
    id,
    ref: z.string(),
    sha: z.string(),
    status: z.string(),
    /** push, merge_request_event, schedule…; older GitLab versions do not send it. */
    source: z.string().nullish(),
    /** Older GitLab versions do not send it. */
    url: z.string().nullish(),
    /** GitLab sends the percentage as a string, a number or null depending on version. */
    coverage: z.union([z.string(), z.number()]).nullish(),
  }),
  merge_request: z.object({ iid }).nullish(),
});

export const deploymentHook = z.object({
  ...envelope,
  status: z.string(),
  environment: z.string(),
  environment_external_url: z.string().nullish(),
  deployable_url: z.string().nullish(),
  /** Not in GitLab's documented payload; used when present. */
  ref: z.string().nullish(),
  short_sha: z.string(),
  /** Ends with the full commit SHA, which the payload carries nowhere else. */
  commit_url: z.string().nullish(),
});
