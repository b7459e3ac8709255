/**
 * GitLab webhook payload → ForgeEvent[]. Keyed on the `X-Gitlab-Event` header; a `System Hook`
 * delivery is routed by its `object_kind`. One delivery may give several events (an issue
 * update that adds two labels gives two `labeled` events); unhandled ones give `[]`.
 */
import type { z } from 'zod';
import { changedAt, type Actor, type DeploymentEvent, type ForgeEvent, type MergeRequestEvent, type PipelineEvent, type RepoRef, type ReviewEvent } from '../event.js';
import { PayloadError } from '../errors.js';
import {
  deploymentHook,
  issueHook,
  mergeRequestHook,
  noteHook,
  pipelineHook,
  type GitLabIssueHook,
  type GitLabLabel,
  type GitLabProject,
  type GitLabReviewer,
  type GitLabUser,
} from './payloads.js';

type ObjectKind = 'issue' | 'note' | 'merge_request' | 'pipeline' | 'deployment';

/** Header → the `object_kind` its payload carries. Confidential variants read the same. */
const HOOK_KINDS: Record<string, ObjectKind> = {
  'Issue Hook': 'issue',
  'Confidential Issue Hook': 'issue',
  'Note Hook': 'note',
  'Confidential Note Hook': 'note',
  'Merge Request Hook': 'merge_request',
  'Pipeline Hook': 'pipeline',
  'Deployment Hook': 'deployment',
};

const ISSUE_ACTIONS: Record<string, 'opened' | 'closed' | 'reopened'> = {
  open: 'opened',
  close: 'closed',
  reopen: 'reopened',
};

const MERGE_REQUEST_ACTIONS: Record<string, MergeRequestEvent['action']> = {
  open: 'opened',
  update: 'updated',
  merge: 'merged',
  close: 'closed',
  reopen: 'reopened',
};

/** `approved` = all required approvals given; `approval` = one user approved. Both are reviews. */
const APPROVAL_ACTIONS: Record<string, 'approved' | 'unapproved'> = {
  approved: 'approved',
  approval: 'approved',
  unapproved: 'unapproved',
  unapproval: 'unapproved',
};

/** Reviewer states that are a verdict; `unreviewed` and `review_started` are not. */
const REVIEWER_VERDICTS: Record<string, ReviewEvent['state']> = {
  requested_changes: 'changes_requested',
  reviewed: 'commented',
  approved: 'approved',
  unapproved: 'unapproved',
};

/** Only finished pipelines: running, pending, created, manual… give no verdict yet. */
const FINISHED_PIPELINE: Record<string, PipelineEvent['status']> = {
  success: 'success',
  failed: 'failed',
  canceled: 'canceled',
  skipped: 'skipped',
};

const DEPLOYMENT_STATUSES: Record<string, DeploymentEvent['status']> = {
  created: 'pending',
  blocked: 'pending',
  running: 'running',
  success: 'success',
  failed: 'failed',
  canceled: 'canceled',
};

/**
 * Project and group access token users are named `project_<id>_bot_<hex>` /
 * `group_<id>_bot_<hex>` (older: `project_<id>_bot<n>`); GitLab's internal bots end in
 * `-bot` (`support-bot`, `alert-bot`, `visual-review-bot`).
 */
const BOT_USERNAME = /^(project|group)_\d+_bot(\d*|_[0-9a-f]+)$|[-_]bot$/i;

export function normalizeGitLab(eventHeader: string, payload: unknown): ForgeEvent[] {
  const objectKind = readObjectKind(payload);
  const kind = eventHeader === 'System Hook' ? asObjectKind(objectKind) : lookup(HOOK_KINDS, eventHeader);
  // A work item other than an issue (task, epic…) comes as `Issue Hook` with object_kind `work_item`.
  if (kind === undefined || (objectKind !== undefined && objectKind !== kind)) return [];

  const parse = <S extends z.ZodType>(schema: S): z.infer<S> => {
    const result = schema.safeParse(payload);
    if (!result.success) throw PayloadError.fromZod(eventHeader, result.error);
    return result.data;
  };

  switch (kind) {
    case 'issue':
      return issueEvents(parse(issueHook));

    case 'note': {
      const p = parse(noteHook);
      // Edits (`update`) are not new commands; older versions send no action for a new note.
      // A discussion reply and a diff note are notes too (`type` DiscussionNote, DiffNote).
      if (p.object_attributes.action && p.object_attributes.action !== 'create') return [];
      const target = noteTarget(p, eventHeader);
      if (!target) return [];
      return [
        {
          ...base(p),
          kind: 'comment',
          action: 'created',
          ...target,
          comment: {
            id: p.object_attributes.id,
            kind: 'comment',
            body: p.object_attributes.note,
            url: p.object_attributes.url,
            author: toActor(p.user),
            ...(p.object_attributes.type === 'DiffNote' || p.object_attributes.type === 'DiscussionNote' ? { reviewNote: true } : {}),
          },
        },
      ];
    }

    case 'merge_request': {
      const p = parse(mergeRequestHook);
      const mr = p.object_attributes;
      const action = mr.action ?? '';
      const approval = lookup(APPROVAL_ACTIONS, action);
      if (approval) {
        return [
          {
            ...base(p),
            kind: 'review',
            action: 'submitted',
            state: approval,
            number: mr.iid,
            ...(mr.last_commit ? { headSha: mr.last_commit.id } : {}),
            reviewer: toActor(p.user),
          },
        ];
      }
      const mapped = lookup(MERGE_REQUEST_ACTIONS, action);
      if (!mapped) return [];
      // A change request (or a submitted review) arrives as an `update` whose `changes`
      // carry the reviewers' states: a review, as an approval is.
      const reviews: ForgeEvent[] =
        mapped === 'updated'
          ? reviewerVerdictChanges(p.changes?.reviewers).map((change) => ({
              ...base(p),
              kind: 'review' as const,
              action: 'submitted' as const,
              state: change.state,
              number: mr.iid,
              ...(mr.last_commit ? { headSha: mr.last_commit.id } : {}),
              reviewer: toActor(change.reviewer),
            }))
          : [];
      return [
        ...reviews,
        {
          ...base(p),
          kind: 'merge_request',
          action: mapped,
          mergeRequest: {
            number: mr.iid,
            title: mr.title,
            body: mr.description ?? '',
            url: mr.url,
            sourceBranch: mr.source_branch,
            targetBranch: mr.target_branch,
            headSha: mr.last_commit?.id ?? '',
            author: authorActor(mr.author_id, p.user),
            labels: titles(p.labels ?? mr.labels),
          },
        },
      ];
    }

    case 'pipeline': {
      const p = parse(pipelineHook);
      const pipeline = p.object_attributes;
      const status = finishedPipelineStatus(pipeline.status);
      if (!status) return [];
      return [
        {
          ...base(p),
          kind: 'pipeline',
          action: 'completed',
          status,
          origin: { kind: 'gitlab_pipeline', source: pipeline.source ?? null },
          pipelineId: pipeline.id,
          sha: pipeline.sha,
          ref: pipeline.ref,
          mergeRequestNumbers: p.merge_request ? [p.merge_request.iid] : [],
          url: pipeline.url ?? `${p.project.web_url}/-/pipelines/${pipeline.id}`,
          coverage: toCoverage(pipeline.coverage),
        },
      ];
    }

    case 'deployment': {
      const p = parse(deploymentHook);
      const status = lookup(DEPLOYMENT_STATUSES, p.status);
      if (!status) return [];
      return [
        {
          ...base(p),
          kind: 'deployment',
          action: 'status',
          status,
          environment: p.environment,
          environmentUrl: p.environment_external_url || p.deployable_url || null,
          // GitLab's deployment payload has no ref; empty rather than a guess.
          ref: p.ref ?? '',
          sha: fullSha(p.commit_url) ?? p.short_sha,
        },
      ];
    }
  }
}

function issueEvents(p: GitLabIssueHook): ForgeEvent[] {
  const attrs = p.object_attributes;
  const event = {
    ...base(p),
    kind: 'issue' as const,
    issue: {
      number: attrs.iid,
      title: attrs.title,
      body: attrs.description ?? '',
      labels: titles(p.labels ?? attrs.labels),
      url: attrs.url,
      state: attrs.state === 'closed' ? ('closed' as const) : ('open' as const),
      author: authorActor(attrs.author_id, p.user),
    },
    ...changedAt(attrs.updated_at),
  };
  const action = attrs.action ?? '';
  const simple = lookup(ISSUE_ACTIONS, action);
  if (simple) return [{ ...event, action: simple }];
  if (action !== 'update') return [];

  const change = p.changes?.labels;
  if (!change) return [{ ...event, action: 'edited' }];
  const before = new Set(titles(change.previous));
  const after = new Set(titles(change.current));
  const added = [...after].filter((t) => !before.has(t));
  const removed = [...before].filter((t) => !after.has(t));
  if (added.length === 0 && removed.length === 0) return [{ ...event, action: 'edited' }];
  return [
    ...added.map((label) => ({ ...event, action: 'labeled' as const, label })),
    ...removed.map((label) => ({ ...event, action: 'unlabeled' as const, label })),
  ];
}

/**
 * Reviewers whose verdict changed between `previous` and `current`: a new verdict state, or
 * a verdict withdrawn (review re-requested, reviewer removed). A reviewer added without a
 * verdict, and hooks without states (older GitLab), give none.
 */
export function reviewerVerdictChanges(
  change: { previous?: GitLabReviewer[] | null; current?: GitLabReviewer[] | null } | null | undefined,
): { reviewer: GitLabReviewer; state: ReviewEvent['state'] }[] {
  if (!change) return [];
  const before = new Map((change.previous ?? []).map((r) => [r.id, r.state ?? null]));
  const current = change.current ?? [];
  const changed: { reviewer: GitLabReviewer; state: ReviewEvent['state'] }[] = [];
  for (const r of current) {
    const was = before.get(r.id) ?? null;
    if (was === (r.state ?? null)) continue;
    const state = lookup(REVIEWER_VERDICTS, r.state);
    // Back to `unreviewed` (review re-requested): the earlier verdict no longer stands.
    if (state) changed.push({ reviewer: r, state });
    else if (lookup(REVIEWER_VERDICTS, was)) changed.push({ reviewer: r, state: 'dismissed' });
  }
  const stillThere = new Set(current.map((r) => r.id));
  for (const r of change.previous ?? []) {
    if (!stillThere.has(r.id) && lookup(REVIEWER_VERDICTS, r.state)) changed.push({ reviewer: r, state: 'dismissed' });
  }
  return changed;
}

function noteTarget(
  p: z.infer<typeof noteHook>,
  where: string,
): { target: 'issue' | 'merge_request'; number: number } | null {
  switch (p.object_attributes.noteable_type) {
    case 'Issue':
      if (!p.issue) throw new PayloadError(where, ['issue: expected object, received undefined']);
      return { target: 'issue', number: p.issue.iid };
    case 'MergeRequest':
      if (!p.merge_request) throw new PayloadError(where, ['merge_request: expected object, received undefined']);
      return { target: 'merge_request', number: p.merge_request.iid };
    default:
      // Comments on commits and snippets are not addressed to the bot.
      return null;
  }
}

function asObjectKind(value: string | undefined): ObjectKind | undefined {
  return Object.values(HOOK_KINDS).find((kind) => kind === value);
}

function readObjectKind(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || !('object_kind' in payload)) return undefined;
  return typeof payload.object_kind === 'string' ? payload.object_kind : undefined;
}

function base(p: { user: GitLabUser; project: GitLabProject }) {
  return { forge: 'gitlab' as const, repo: toRepo(p.project), sender: toActor(p.user) };
}

function toRepo(project: GitLabProject): RepoRef {
  return {
    id: project.id,
    fullName: project.path_with_namespace,
    // An empty repository has no default branch yet; `main` is what GitLab will create.
    defaultBranch: project.default_branch || 'main',
    webUrl: project.web_url,
    cloneUrl: project.git_http_url,
  };
}

export function isGitLabBot(user: { username: string; bot?: boolean | null }): boolean {
  return user.bot === true || BOT_USERNAME.test(user.username);
}

function toActor(user: GitLabUser): Actor {
  return { id: user.id, login: user.username, isBot: isGitLabBot(user) };
}

/**
 * Issue and MR hooks name the author only by id. When the author is the one acting we know
 * the username; otherwise `login` is empty (the event schema's actor needs an id and a login).
 */
function authorActor(authorId: number, sender: GitLabUser): Actor {
  return authorId === sender.id ? toActor(sender) : { id: authorId, login: '', isBot: false };
}

function titles(labels: GitLabLabel[] | null | undefined): string[] {
  return (labels ?? []).map((l) => l.title);
}

/** GitLab sends coverage as a string ("87.5"), a number or null. */
export function toCoverage(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = typeof value === 'number' ? value : Number.parseFloat(value);
  return Number.isFinite(n) ? n : null;
}

function fullSha(commitUrl: string | null | undefined): string | null {
  const match = commitUrl?.match(/\/([0-9a-f]{40}|[0-9a-f]{64})\/?$/i);
  return match?.[1] ?? null;
}

/** Own keys only, so an action named `constructor` or `toString` never matches. */
function lookup<V>(table: Record<string, V>, key: string | undefined | null): V | undefined {
  return key != null && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** A pipeline's verdict; undefined while it has none (running, pending, created, manual…). */
export function finishedPipelineStatus(status: string): PipelineEvent['status'] | undefined {
  return lookup(FINISHED_PIPELINE, status);
}
