/**
 * GitHub webhook payload → ForgeEvent[]. Events and actions the bot does not act on give
 * `[]`; a handled one whose payload lacks a field we need throws PayloadError.
 */
import type { z } from 'zod';
import {
  changedAt,
  issueAction,
  type Actor,
  type DeploymentEvent,
  type ForgeEvent,
  type PipelineEvent,
  type PipelineOrigin,
  type RepoRef,
  type ReviewEvent,
} from '../event.js';
import { PayloadError } from '../errors.js';
import {
  checkSuitePayload,
  deploymentStatusPayload,
  issueCommentPayload,
  issuesPayload,
  pullRequestPayload,
  pullRequestReviewCommentPayload,
  pullRequestReviewPayload,
  statusPayload,
  workflowRunPayload,
  type GitHubRepository,
  type GitHubUser,
} from './payloads.js';

const PULL_REQUEST_ACTIONS: Record<string, 'opened' | 'updated' | 'reopened' | 'closed'> = {
  opened: 'opened',
  synchronize: 'updated',
  edited: 'updated',
  reopened: 'reopened',
  closed: 'closed',
};

const REVIEW_STATES: Record<string, ReviewEvent['state']> = {
  approved: 'approved',
  changes_requested: 'changes_requested',
  commented: 'commented',
};

const CONCLUSIONS: Record<string, PipelineEvent['status']> = {
  success: 'success',
  failure: 'failed',
  timed_out: 'failed',
  action_required: 'failed',
  startup_failure: 'failed',
  cancelled: 'canceled',
  skipped: 'skipped',
  neutral: 'neutral',
  stale: 'neutral',
};

const DEPLOYMENT_STATES: Record<string, DeploymentEvent['status']> = {
  success: 'success',
  failure: 'failed',
  error: 'failed',
  inactive: 'inactive',
  in_progress: 'running',
  queued: 'pending',
  pending: 'pending',
  waiting: 'pending',
};

/** A commit status has no `neutral`: `error` (the CI could not run) counts as a failure. */
const STATUS_STATES: Record<string, PipelineEvent['status']> = {
  success: 'success',
  failure: 'failed',
  error: 'failed',
};

/** `eventName` is the `X-GitHub-Event` header. */
export function normalizeGitHub(eventName: string, payload: unknown): ForgeEvent[] {
  const action = readAction(payload);
  const where = `${eventName}.${action ?? '(no action)'}`;
  const parse = <S extends z.ZodType>(schema: S): z.infer<S> => {
    const result = schema.safeParse(payload);
    if (!result.success) throw PayloadError.fromZod(where, result.error);
    return result.data;
  };

  switch (eventName) {
    case 'issues': {
      const issueActionResult = issueAction.safeParse(action);
      if (!issueActionResult.success) return ignoreAction(action, where);
      const p = parse(issuesPayload);
      const isLabelAction = issueActionResult.data === 'labeled' || issueActionResult.data === 'unlabeled';
      if (isLabelAction && !p.label) throw new PayloadError(where, ['label: expected object, received undefined']);
      return [
        {
          ...base(p),
          kind: 'issue',
          action: issueActionResult.data,
          issue: {
            number: p.issue.number,
            title: p.issue.title,
            body: p.issue.body ?? '',
            labels: (p.issue.labels ?? []).map((l) => l.name),
            url: p.issue.html_url,
            state: p.issue.state,
            author: toActor(p.issue.user),
          },
          ...(isLabelAction && p.label ? { label: p.label.name } : {}),
          ...changedAt(p.issue.updated_at),
        },
      ];
    }

    case 'issue_comment': {
      if (action !== 'created') return ignoreAction(action, where);
      const p = parse(issueCommentPayload);
      return [
        {
          ...base(p),
          kind: 'comment',
          action: 'created',
          target: p.issue.pull_request ? 'merge_request' : 'issue',
          number: p.issue.number,
          comment: {
            id: p.comment.id,
            kind: 'comment',
            body: p.comment.body,
            url: p.comment.html_url,
            author: toActor(p.comment.user),
          },
        },
      ];
    }

    case 'pull_request': {
      const mapped = lookup(PULL_REQUEST_ACTIONS, action);
      if (!mapped) return ignoreAction(action, where);
      const p = parse(pullRequestPayload);
      const pr = p.pull_request;
      return [
        {
          ...base(p),
          kind: 'merge_request',
          action: mapped === 'closed' && pr.merged ? 'merged' : mapped,
          mergeRequest: {
            number: pr.number,
            title: pr.title,
            body: pr.body ?? '',
            url: pr.html_url,
            sourceBranch: pr.head.ref,
            targetBranch: pr.base.ref,
            headSha: pr.head.sha,
            author: toActor(pr.user),
            labels: (pr.labels ?? []).map((l) => l.name),
          },
        },
      ];
    }

    case 'pull_request_review': {
      if (action !== 'submitted' && action !== 'dismissed') return ignoreAction(action, where);
      const p = parse(pullRequestReviewPayload);
      // A dismissal withdraws the reviewer's verdict: it moves the reward as a new review does.
      // A submitted state GitHub may add later says nothing about the code: ignored.
      const state = action === 'dismissed' ? 'dismissed' : lookup(REVIEW_STATES, p.review.state.toLowerCase());
      if (!state) return [];
      return [
        {
          ...base(p),
          kind: 'review',
          action,
          state,
          number: p.pull_request.number,
          headSha: p.review.commit_id ?? p.pull_request.head.sha,
          ...(p.review.id !== undefined ? { reviewId: p.review.id } : {}),
          reviewer: toActor(p.review.user ?? p.sender),
        },
        ...reviewBodyComment(p, action),
      ];
    }

    case 'pull_request_review_comment': {
      // Edits are not new commands; a deletion is nothing to answer.
      if (action !== 'created') return ignoreAction(action, where);
      const p = parse(pullRequestReviewCommentPayload);
      return [
        {
          ...base(p),
          kind: 'comment',
          action: 'created',
          target: 'merge_request',
          number: p.pull_request.number,
          comment: { id: p.comment.id, kind: 'review_comment', body: p.comment.body, url: p.comment.html_url, author: toActor(p.comment.user) },
        },
      ];
    }

    case 'check_suite': {
      if (action !== 'completed') return ignoreAction(action, where);
      const p = parse(checkSuitePayload);
      const suite = p.check_suite;
      // An Actions check suite is also delivered as `workflow_run`, which carries the run id
      // its artifacts hang off: that one speaks for it.
      if (suite.app?.slug === 'github-actions') return [];
      const app = suite.app ? (suite.app.slug ?? String(suite.app.id)) : 'unknown';
      const url = `${p.repository.html_url}/commit/${suite.head_sha}/checks?check_suite_id=${suite.id}`;
      return pipelineCompleted(p, suite, { kind: 'check_suite', app }, url);
    }

    case 'workflow_run': {
      if (action !== 'completed') return ignoreAction(action, where);
      const p = parse(workflowRunPayload);
      const run = p.workflow_run;
      return pipelineCompleted(p, run, { kind: 'workflow_run' }, run.html_url);
    }

    case 'status': {
      const p = parse(statusPayload);
      const status = lookup(STATUS_STATES, p.state);
      // `pending` is no verdict yet.
      if (!status) return [];
      return [{
        ...base(p),
        kind: 'pipeline',
        action: 'completed',
        status,
        origin: { kind: 'commit_status', context: p.context },
        pipelineId: p.id,
        sha: p.sha,
        ref: '',
        mergeRequestNumbers: [],
        url: p.target_url || `${p.repository.html_url}/commit/${p.sha}`,
        coverage: null,
      }];
    }

    case 'deployment_status': {
      // Its only action is `created`; older deliveries omit `action` altogether.
      if (action !== undefined && action !== 'created') return [];
      const p = parse(deploymentStatusPayload);
      const status = lookup(DEPLOYMENT_STATES, p.deployment_status.state);
      if (!status) return [];
      const { environment_url, target_url } = p.deployment_status;
      return [
        {
          ...base(p),
          kind: 'deployment',
          action: 'status',
          status,
          environment: p.deployment_status.environment ?? p.deployment.environment,
          environmentUrl: environment_url || target_url || null,
          ref: p.deployment.ref,
          sha: p.deployment.sha,
        },
      ];
    }

    default:
      return [];
  }
}

/** A submitted review's body, when it has one, is a comment that may hold commands. */
function reviewBodyComment(p: z.infer<typeof pullRequestReviewPayload>, action: string): ForgeEvent[] {
  const body = p.review.body ?? '';
  if (action !== 'submitted' || body.trim() === '') return [];
  const author = toActor(p.review.user ?? p.sender);
  const url = p.review.html_url ?? `${p.repository.html_url}/pull/${p.pull_request.number}#pullrequestreview-${p.review.id}`;
  return [
    {
      ...base(p),
      kind: 'comment',
      action: 'created',
      target: 'merge_request',
      number: p.pull_request.number,
      comment: { id: p.review.id, kind: 'review', body, url, author },
    },
  ];
}

/**
 * `[]` for an action of a handled event that we do not act on; a missing `action` means the
 * payload is broken (every handled event except deployment_status has one).
 */
function ignoreAction(action: string | undefined, where: string): ForgeEvent[] {
  if (action === undefined) throw new PayloadError(where, ['action: expected string, received undefined']);
  return [];
}

function readAction(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || !('action' in payload)) return undefined;
  return typeof payload.action === 'string' ? payload.action : undefined;
}

/**
 * A finished check suite or workflow run (both carry the same fields) as a pipeline event.
 * GitHub's own examples include a "completed" delivery with no conclusion yet: no verdict.
 */
function pipelineCompleted(
  p: Parameters<typeof base>[0],
  run: { id: number; conclusion: string | null; head_sha: string; head_branch: string | null; pull_requests: { number: number }[] },
  origin: PipelineOrigin,
  url: string,
): PipelineEvent[] {
  if (run.conclusion === null) return [];
  return [{
    ...base(p),
    kind: 'pipeline',
    action: 'completed',
    status: conclusionStatus(run.conclusion),
    origin,
    pipelineId: run.id,
    sha: run.head_sha,
    ref: run.head_branch ?? '',
    mergeRequestNumbers: run.pull_requests.map((pr) => pr.number),
    url,
    coverage: null,
  }];
}

/** A commit status's verdict; undefined while it is `pending`. */
export const commitStatus = (state: string): PipelineEvent['status'] | undefined => lookup(STATUS_STATES, state);

/** Unknown conclusions GitHub may add later count as no verdict rather than a failure. */
export function conclusionStatus(conclusion: string): PipelineEvent['status'] {
  return lookup(CONCLUSIONS, conclusion) ?? 'neutral';
}

function base(p: { repository: GitHubRepository; sender: GitHubUser; installation?: { id: number } | null }) {
  return {
    forge: 'github' as const,
    ...(p.installation ? { installationId: p.installation.id } : {}),
    repo: toRepo(p.repository),
    sender: toActor(p.sender),
  };
}

function toRepo(r: GitHubRepository): RepoRef {
  return { id: r.id, fullName: r.full_name, defaultBranch: r.default_branch, webUrl: r.html_url, cloneUrl: r.clone_url };
}

function toActor(u: GitHubUser): Actor {
  return { id: u.id, login: u.login, isBot: u.type === 'Bot' };
}

/** Own keys only, so an action named `constructor` or `toString` never matches. */
function lookup<V>(table: Record<string, V>, key: string | undefined | null): V | undefined {
  return key != null && Object.hasOwn(table, key) ? table[key] : undefined;
}
