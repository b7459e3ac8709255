/**
 * The Forge for one GitHub App installation, over the installation's Octokit (the one
 * `probot.auth(installationId)` returns). Responses are parsed with zod, failures become
 * ForgeApiError; retries happen below, in retryingFetch.
 */
import type { ProbotOctokit } from 'probot';
import { z } from 'zod';
import type {
  CiJob,
  CommentRef,
  Forge,
  ForgeUser,
  IssueState,
  MergeRequestDetails,
  MergeRequestSummary,
  OpenMergeRequest,
  Permission,
  PipelineRef,
  Reaction,
  RepoLocator,
  ReportLocation,
  ReviewComment,
  ReviewVerdict,
  ThreadRef,
  UserRef,
} from '../forge.js';
import { readAtMost, readTail, withMarker } from '../bodies.js';
import { ForgeApiError, mayHaveBeenApplied } from '../errors.js';
import type { PipelineRun } from '../event.js';
import { readZipEntry, ZipError } from './zip.js';
import { commitStatus, conclusionStatus } from './normalize.js';

type Octokit = ProbotOctokit;

const comment = z.object({ id: z.number().int(), body: z.string().nullish() });

const pull = z.object({
  number: z.number().int(),
  html_url: z.string(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.enum(['open', 'closed']),
  merged_at: z.string().nullish(),
  head: z.object({ ref: z.string() }),
  base: z.object({ ref: z.string() }),
});

const collaboratorPermission = z.object({
  /** Folded legacy value: admin, write, read or none. */
  permission: z.string(),
  /** The actual role: admin, maintain, write, triage, read, or a custom role name. */
  role_name: z.string().nullish(),
});

/** `GET /repos/{owner}/{repo}/issues/{n}`; labels come as objects (or, in old payloads, names). */
const issue = z.object({
  number: z.number().int(),
  state: z.enum(['open', 'closed']),
  title: z.string(),
  body: z.string().nullish(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string() })])),
});

const installationToken = z.object({ token: z.string().min(1) });

/** A user as REST responses embed it; `type` is `User`, `Bot` or `Organization`. */
const user = z.object({ id: z.number().int(), login: z.string(), type: z.string().nullish() });

const pullDetails = pull.extend({
  head: z.object({ ref: z.string(), sha: z.string() }),
  /** Null for a deleted account in some responses. */
  user: user.nullable(),
});

const review = z.object({
  id: z.number().int(),
  user: user.nullable(),
  /** APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING. */
  state: z.string(),
  submitted_at: z.string().nullish(),
});

/** `GET /repos/{owner}/{repo}/pulls/{n}/reviews/{id}`: the review's own text. */
const reviewDetail = review.extend({ body: z.string().nullish() });

/** An inline review comment; `line` is null on a line the diff no longer shows (then `original_line`). */
const reviewComment = z.object({
  id: z.number().int(),
  user: user.nullable(),
  body: z.string(),
  path: z.string(),
  line: z.number().int().nullish(),
  original_line: z.number().int().nullish(),
});

/** A workflow run's job; `conclusion` is null while it runs. */
const job = z.object({ id: z.number().int(), name: z.string(), conclusion: z.string().nullish(), html_url: z.string().nullish() });

const reaction = z.object({ id: z.number().int(), user: user.nullable(), content: z.string() });

const artifact = z.object({
  id: z.number().int(),
  name: z.string(),
  /** The size of the zip GitHub serves. */
  size_in_bytes: z.number().int(),
  expired: z.boolean(),
});
type Artifact = z.infer<typeof artifact>;

const workflowRuns = z.object({
  workflow_runs: z.array(z.object({ id: z.number().int(), head_sha: z.string() })),
});

/** What a finished workflow run and a check suite both carry (the webhooks' fields). */
const ciRun = z.object({
  id: z.number().int(),
  head_sha: z.string(),
  head_branch: z.string().nullable(),
  conclusion: z.string().nullable(),
  pull_requests: z.array(z.object({ number: z.number().int() })).nullish(),
});
const headWorkflowRuns = z.object({ workflow_runs: z.array(ciRun.extend({ html_url: z.string() })) });
const headCheckSuites = z.object({
  check_suites: z.array(ciRun.extend({ app: z.object({ id: z.number().int(), slug: z.string().nullish() }).nullable() })),
});
const commitStatusItem = z.object({ id: z.number().int(), state: z.string(), context: z.string(), target_url: z.string().nullish() });

export interface GitHubForgeOptions {
  /** Largest report read out of an artifact, uncompressed. Default 50 MiB. */
  maxReportBytes?: number;
  /** Largest artifact zip downloaded (held in memory while it is read). Default 200 MiB. */
  maxArtifactBytes?: number;
}

const MiB = 1024 * 1024;

/**
 * `role_name` first: the legacy `permission` folds maintain into write. `triage` can label
 * but not push, so it is read. A custom role's name is unknown here: its `permission` decides.
 */
const ROLE_PERMISSIONS: Record<string, Permission> = {
  admin: 'admin',
  maintain: 'maintain',
  write: 'write',
  triage: 'read',
  read: 'read',
  none: 'none',
};

export class GitHubForge implements Forge {
  readonly kind = 'github' as const;

  readonly #maxReportBytes: number;
  readonly #maxArtifactBytes: number;

  constructor(
    private readonly octokit: Octokit,
    options: GitHubForgeOptions = {},
  ) {
    this.#maxReportBytes = options.maxReportBytes ?? 50 * MiB;
    this.#maxArtifactBytes = options.maxArtifactBytes ?? 200 * MiB;
  }

  async upsertComment(thread: ThreadRef, marker: string, body: string, knownId?: number | null): Promise<number> {
    const { owner, repo } = splitFullName(thread.repo);
    const text = withMarker(marker, body);
    if (knownId != null) {
      try {
        await this.editComment(owner, repo, knownId, text);
        return knownId;
      } catch (error) {
        // Deleted by someone: find it by marker (or post a new one).
        if (!(error instanceof ForgeApiError && error.status === 404)) throw error;
      }
    }

    const existing = await this.findComment(owner, repo, thread.number, marker);
    if (existing) {
      if (existing.body !== text) await this.editComment(owner, repo, existing.id, text);
      return existing.id;
    }
    try {
      const created = await this.call(comment, 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
        owner,
        repo,
        issue_number: thread.number,
        body: text,
      });
      return created.id;
    } catch (error) {
      return this.adoptPostedComment(owner, repo, thread.number, marker, error);
    }
  }

  /**
   * After a POST that may have been performed (a 502, a dropped connection, a timeout), the
   * comment is looked for by its marker before anything writes again. Not found: the error
   * stands, and the delivery's next try (which looks again) is the second POST.
   */
  private async adoptPostedComment(owner: string, repo: string, issueNumber: number, marker: string, error: unknown): Promise<number> {
    if (!mayHaveBeenApplied(error)) throw error;
    const posted = await this.findComment(owner, repo, issueNumber, marker);
    if (!posted) throw error;
    return posted.id;
  }

  /** GitHub answers 200 with the existing reaction when it is there already: idempotent. */
  async acknowledgeComment(thread: ThreadRef, comment: CommentRef): Promise<void> {
    // GitHub's reactions API has no endpoint for a review's body.
    if (comment.kind === 'review') return;
    const { owner, repo } = splitFullName(thread.repo);
    const route =
      comment.kind === 'review_comment'
        ? 'POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions'
        : 'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions';
    await this.call(z.unknown(), route, { owner, repo, comment_id: comment.id, content: 'eyes' });
  }

  async addLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    const { owner, repo } = splitFullName(thread.repo);
    // The issues API adds to the existing set (PRs are issues here) and ignores duplicates.
    await this.call(z.unknown(), 'POST /repos/{owner}/{repo}/issues/{issue_number}/labels', {
      owner,
      repo,
      issue_number: thread.number,
      labels,
    });
  }

  async removeLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    const { owner, repo } = splitFullName(thread.repo);
    for (const name of labels) {
      try {
        await this.call(z.unknown(), 'DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}', {
          owner,
          repo,
          issue_number: thread.number,
          name,
        });
      } catch (error) {
        // Not on the issue (any more): what we wanted.
        if (!(error instanceof ForgeApiError && error.status === 404)) throw error;
      }
    }
  }

  async getIssue(repoRef: RepoLocator, number: number): Promise<IssueState | null> {
    const { owner, repo } = splitFullName(repoRef);
    try {
      const i = await this.call(issue, 'GET /repos/{owner}/{repo}/issues/{issue_number}', { owner, repo, issue_number: number });
      return {
        number: i.number,
        state: i.state,
        title: i.title,
        body: i.body ?? '',
        labels: i.labels.map((l) => (typeof l === 'string' ? l : l.name)),
      };
    } catch (error) {
      // 404: deleted or transferred; 410: deleted.
      if (error instanceof ForgeApiError && (error.status === 404 || error.status === 410)) return null;
      throw error;
    }
  }

  async permissionOf(repoRef: RepoLocator, user: UserRef): Promise<Permission> {
    const { owner, repo } = splitFullName(repoRef);
    try {
      const result = await this.call(
        collaboratorPermission,
        'GET /repos/{owner}/{repo}/collaborators/{username}/permission',
        { owner, repo, username: user.login },
      );
      const own = (key: string | null | undefined) => (key != null && Object.hasOwn(ROLE_PERMISSIONS, key) ? ROLE_PERMISSIONS[key] : undefined);
      return own(result.role_name) ?? own(result.permission) ?? 'none';
    } catch (error) {
      // Not a collaborator (or no such user).
      if (error instanceof ForgeApiError && error.status === 404) return 'none';
      throw error;
    }
  }

  async findMergeRequestByBranch(repoRef: RepoLocator, branch: string): Promise<MergeRequestSummary | null> {
    const { owner, repo } = splitFullName(repoRef);
    const pulls = await this.call(z.array(pull), 'GET /repos/{owner}/{repo}/pulls', {
      owner,
      repo,
      head: `${owner}:${branch}`,
      state: 'open',
      per_page: 1,
    });
    return pulls[0] ? toSummary(pulls[0]) : null;
  }

  async openMergeRequest(repoRef: RepoLocator, request: OpenMergeRequest): Promise<MergeRequestSummary> {
    const { owner, repo } = splitFullName(repoRef);
    let summary: MergeRequestSummary;
    try {
      summary = toSummary(
        await this.call(pull, 'POST /repos/{owner}/{repo}/pulls', {
          owner,
          repo,
          head: request.sourceBranch,
          base: request.targetBranch,
          title: request.title,
          body: request.body,
        }),
      );
    } catch (error) {
      // 422 "A pull request already exists": a retry after a crash. A 5xx, dropped connection
      // or timeout: the POST may have opened it. Either way, adopt the open one by its branch.
      const existing =
        (error instanceof ForgeApiError && error.status === 422) || mayHaveBeenApplied(error)
          ? await this.findMergeRequestByBranch(repoRef, request.sourceBranch)
          : null;
      if (!existing) throw error;
      summary = existing;
    }
    await this.addLabels({ repo: repoRef, number: summary.number, on: 'merge_request' }, request.labels);
    return summary;
  }

  async updateMergeRequest(
    repoRef: RepoLocator,
    number: number,
    patch: { title?: string; body?: string },
  ): Promise<MergeRequestSummary> {
    const { owner, repo } = splitFullName(repoRef);
    const updated = await this.call(pull, 'PATCH /repos/{owner}/{repo}/pulls/{pull_number}', {
      owner,
      repo,
      pull_number: number,
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.body !== undefined ? { body: patch.body } : {}),
    });
    return toSummary(updated);
  }

  /** The installation token (valid for about an hour; Octokit caches and renews it). */
  async gitCredential(_repo: RepoLocator): Promise<{ username: string; password: string }> {
    const auth = installationToken.safeParse(await this.octokit.auth({ type: 'installation' }));
    if (!auth.success) throw new Error('GitHub: the Octokit instance has no installation token (was it built with probot.auth(installationId)?)');
    return { username: 'x-access-token', password: auth.data.token };
  }

  async getMergeRequest(repoRef: RepoLocator, number: number): Promise<MergeRequestDetails> {
    const { owner, repo } = splitFullName(repoRef);
    const p = await this.call(pullDetails, 'GET /repos/{owner}/{repo}/pulls/{pull_number}', {
      owner,
      repo,
      pull_number: number,
    });
    return { ...toSummary(p), headSha: p.head.sha, author: toUser(p.user) };
  }

  async reviews(repoRef: RepoLocator, number: number): Promise<ReviewVerdict[]> {
    const { owner, repo } = splitFullName(repoRef);
    const all = await this.all(review, 'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', {
      owner,
      repo,
      pull_number: number,
      per_page: 100,
    });
    return standingVerdicts(all);
  }

  async reactions(repoRef: RepoLocator, number: number): Promise<Reaction[]> {
    const { owner, repo } = splitFullName(repoRef);
    // A pull request is an issue; its own reactions (not its comments') live there.
    const all = await this.all(reaction, 'GET /repos/{owner}/{repo}/issues/{issue_number}/reactions', {
      owner,
      repo,
      issue_number: number,
      per_page: 100,
    });
    return all.flatMap((r) => (r.user ? [{ user: toUser(r.user), kind: reactionKind(r.content) }] : []));
  }

  /**
   * Lists the run's artifacts once, then for each location in turn downloads the newest
   * unexpired artifact of that name (each zip at most once) and reads the file out of it.
   * An artifact that expired or vanished since the listing (404/410) counts as absent. A zip
   * that cannot be read, or a file or zip over the size limits, is an error, not "absent":
   * the report exists and the evaluation should say why it could not use it.
   */
  async report(repoRef: RepoLocator, pipelineId: number, locations: ReportLocation[]): Promise<string | null> {
    if (locations.length === 0) return null;
    const { owner, repo } = splitFullName(repoRef);
    const artifacts = await this.all(artifact, 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', {
      owner,
      repo,
      run_id: pipelineId,
      per_page: 100,
    });

    const zips = new Map<number, Buffer | null>();
    for (const location of locations) {
      const candidates = artifacts.filter((a) => a.name === location.artifact && !a.expired);
      const chosen = candidates.reduce<Artifact | null>((best, a) => (best === null || a.id > best.id ? a : best), null);
      if (!chosen) continue;

      let zip = zips.get(chosen.id);
      if (zip === undefined) {
        zip = await this.downloadArtifact(owner, repo, chosen);
        zips.set(chosen.id, zip);
      }
      if (zip === null) continue;

      let entry: Buffer | null;
      try {
        entry = readZipEntry(zip, location.path, { maxBytes: this.#maxReportBytes });
      } catch (error) {
        if (!(error instanceof ZipError)) throw error;
        throw new ZipError(`GitHub artifact "${chosen.name}" (${chosen.id}) of run ${pipelineId}: ${error.message}`, {
          cause: error,
        });
      }
      if (entry) return new TextDecoder('utf-8').decode(entry);
    }
    return null;
  }

  /** GitHub computes no coverage figure: it comes from a report or not at all. */
  async pipelineCoverage(_repo: RepoLocator, _pipelineId: number): Promise<number | null> {
    return null;
  }

  /**
   * The newest successful run on `ref` started by a push. Only push runs: `branch` matches
   * a run's head branch, so without the filter a pull request from a fork's own `main`
   * would pass for a run of this repository's `main`.
   */
  async latestSuccessfulPipeline(repoRef: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const { owner, repo } = splitFullName(repoRef);
    const { workflow_runs: runs } = await this.call(workflowRuns, 'GET /repos/{owner}/{repo}/actions/runs', {
      owner,
      repo,
      branch: ref,
      event: 'push',
      status: 'success',
      exclude_pull_requests: true,
      per_page: 1,
    });
    const run = runs[0];
    return run ? { id: run.id, sha: run.head_sha, coverage: null } : null;
  }

  /** The review's body, then its inline comments, each with its file and line. */
  async reviewComments(repoRef: RepoLocator, number: number, reviewId?: number): Promise<ReviewComment[]> {
    if (reviewId === undefined) return [];
    const { owner, repo } = splitFullName(repoRef);
    const params = { owner, repo, pull_number: number, review_id: reviewId };
    const r = await this.call(reviewDetail, 'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}', params);
    const inline = await this.all(reviewComment, 'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments', { ...params, per_page: 100 });
    const body = (r.body ?? '').trim();
    return [
      ...(body ? [{ author: toUser(r.user), body, path: null, line: null }] : []),
      ...inline.map((c) => ({ author: toUser(c.user), body: c.body, path: c.path, line: c.line ?? c.original_line ?? null })),
    ];
  }

  /** The latest attempt's jobs that failed or timed out (`filter=latest`: a re-run replaces its first try). */
  async failedJobs(repoRef: RepoLocator, pipelineId: number): Promise<CiJob[]> {
    const { owner, repo } = splitFullName(repoRef);
    const jobs = await this.all(job, 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', { owner, repo, run_id: pipelineId, filter: 'latest', per_page: 100 });
    return jobs.filter((j) => j.conclusion === 'failure' || j.conclusion === 'timed_out').map((j) => ({ id: j.id, name: j.name, url: j.html_url ?? null }));
  }

  /** The newest completed push run on `ref`, whatever its conclusion (see latestSuccessfulPipeline on why push only). */
  async latestPipeline(repoRef: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const { owner, repo } = splitFullName(repoRef);
    const { workflow_runs: runs } = await this.call(workflowRuns, 'GET /repos/{owner}/{repo}/actions/runs', {
      owner,
      repo,
      branch: ref,
      event: 'push',
      status: 'completed',
      exclude_pull_requests: true,
      per_page: 1,
    });
    const run = runs[0];
    return run ? { id: run.id, sha: run.head_sha, coverage: null } : null;
  }

  /**
   * The job's log as text, its last `maxBytes`. GitHub answers with a 302 to a short-lived
   * storage URL, which fetch follows (without the Authorization header: another origin).
   */
  async jobLog(repoRef: RepoLocator, jobId: number, maxBytes: number): Promise<string> {
    const { owner, repo } = splitFullName(repoRef);
    let response: { data: unknown };
    try {
      response = await this.octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs', {
        owner,
        repo,
        job_id: jobId,
        request: { parseSuccessResponseBody: false },
      });
    } catch (error) {
      throw toForgeApiError(error);
    }
    const data = response.data;
    if (typeof data === 'string') return data.slice(-maxBytes);
    if (data instanceof ArrayBuffer) return new TextDecoder('utf-8').decode(Buffer.from(data).subarray(-maxBytes));
    if (!data || typeof (data as { getReader?: unknown }).getReader !== 'function') return '';
    const { bytes } = await readTail(data as ReadableStream<Uint8Array>, maxBytes);
    return new TextDecoder('utf-8').decode(bytes);
  }

  /**
   * The head commit's workflow runs, check suites of other Apps (an Actions suite is its
   * workflow run) and commit statuses (newest first per context, as GitHub lists them), each
   * as its webhook would have said it. One page of each: a commit with more than 100 runs is
   * not a case the reward cares about.
   */
  async headPipelines(repoRef: RepoLocator, mr: { number: number; headSha: string }): Promise<PipelineRun[]> {
    const { owner, repo } = splitFullName(repoRef);
    const web = `https://github.com/${owner}/${repo}`;
    const [runs, suites, statuses] = await Promise.all([
      this.call(headWorkflowRuns, 'GET /repos/{owner}/{repo}/actions/runs', { owner, repo, head_sha: mr.headSha, status: 'completed', per_page: 100 }),
      this.call(headCheckSuites, 'GET /repos/{owner}/{repo}/commits/{ref}/check-suites', { owner, repo, ref: mr.headSha, per_page: 100 }),
      this.call(z.array(commitStatusItem), 'GET /repos/{owner}/{repo}/commits/{ref}/statuses', { owner, repo, ref: mr.headSha, per_page: 100 }),
    ]);
    const finished = (run: z.infer<typeof ciRun>, origin: PipelineRun['origin'], url: string): PipelineRun[] =>
      run.conclusion === null
        ? []
        : [{ status: conclusionStatus(run.conclusion), origin, pipelineId: run.id, sha: run.head_sha, ref: run.head_branch ?? '', mergeRequestNumbers: (run.pull_requests ?? []).map((p) => p.number), url, coverage: null }];
    const fromStatuses = statuses.flatMap((st): PipelineRun[] => {
      const status = commitStatus(st.state);
      return status ? [{ status, origin: { kind: 'commit_status', context: st.context }, pipelineId: st.id, sha: mr.headSha, ref: '', mergeRequestNumbers: [], url: st.target_url || `${web}/commit/${mr.headSha}`, coverage: null }] : [];
    });
    return [
      ...runs.workflow_runs.flatMap((r) => finished(r, { kind: 'workflow_run' }, r.html_url)),
      ...suites.check_suites
        .filter((c) => c.app?.slug !== 'github-actions')
        .flatMap((c) => finished(c, { kind: 'check_suite', app: c.app ? (c.app.slug ?? String(c.app.id)) : 'unknown' }, `${web}/commit/${c.head_sha}/checks?check_suite_id=${c.id}`)),
      ...fromStatuses,
    ];
  }

  /**
   * The artifact's zip, or null when it is gone (404, or 410 once expired). GitHub answers
   * with a 302 to a short-lived storage URL; fetch follows it and, the host being another
   * origin, drops the Authorization header. Errors name the API URL, never the signed one.
   */
  private async downloadArtifact(owner: string, repo: string, a: Artifact): Promise<Buffer | null> {
    const route = 'GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}';
    const params = { owner, repo, artifact_id: a.id, archive_format: 'zip' };
    const max = this.#maxArtifactBytes;
    const tooLarge = (size: number | string) =>
      new ForgeApiError(0, 'GET', this.octokit.request.endpoint(route, params).url, `artifact "${a.name}" is ${size} bytes, over the limit of ${max} bytes`);
    if (a.size_in_bytes > max) throw tooLarge(a.size_in_bytes);

    let response: { data: unknown };
    try {
      response = await this.octokit.request(route, { ...params, request: { parseSuccessResponseBody: false } });
    } catch (error) {
      const wrapped = toForgeApiError(error);
      if (wrapped instanceof ForgeApiError && (wrapped.status === 404 || wrapped.status === 410)) return null;
      throw wrapped;
    }
    const bytes = await readArtifact(response.data, max);
    if (bytes === null) throw tooLarge(`more than ${max}`);
    return bytes;
  }

  private async editComment(owner: string, repo: string, commentId: number, body: string): Promise<void> {
    await this.call(comment, 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', {
      owner,
      repo,
      comment_id: commentId,
      body,
    });
  }

  /** Walks the thread's comments page by page and stops at the first one carrying `marker`. */
  private async findComment(
    owner: string,
    repo: string,
    issueNumber: number,
    marker: string,
  ): Promise<{ id: number; body: string } | null> {
    const pages = this.octokit.paginate.iterator('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      owner,
      repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    try {
      for await (const page of pages) {
        const comments = parseResponse(z.array(comment), page.data, 'GET', page.url);
        const found = comments.find((c) => c.body?.includes(marker));
        if (found) return { id: found.id, body: found.body ?? '' };
      }
    } catch (error) {
      throw toForgeApiError(error);
    }
    return null;
  }

  /** Every page of a list endpoint, each item parsed with `schema`. */
  private async all<S extends z.ZodType>(schema: S, route: string, params: Record<string, unknown>): Promise<Array<z.infer<S>>> {
    const items: Array<z.infer<S>> = [];
    const list = z.array(schema);
    try {
      for await (const page of this.octokit.paginate.iterator(route, params)) {
        items.push(...parseResponse(list, page.data, 'GET', page.url));
      }
    } catch (error) {
      throw toForgeApiError(error);
    }
    return items;
  }

  /** One REST call: response data parsed with `schema`, failures as ForgeApiError. */
  private async call<S extends z.ZodType>(schema: S, route: string, params: Record<string, unknown>): Promise<z.infer<S>> {
    let response: { data: unknown; url: string };
    try {
      response = await this.octokit.request(route, params);
    } catch (error) {
      throw toForgeApiError(error);
    }
    return parseResponse(schema, response.data, route.split(' ')[0] ?? 'GET', response.url);
  }
}

function splitFullName(repo: RepoLocator): { owner: string; repo: string } {
  const [owner, name, ...rest] = repo.fullName.split('/');
  if (!owner || !name || rest.length > 0) throw new Error(`GitHub: "${repo.fullName}" is not owner/name`);
  return { owner, repo: name };
}

function toSummary(p: z.infer<typeof pull>): MergeRequestSummary {
  return {
    number: p.number,
    url: p.html_url,
    title: p.title,
    body: p.body ?? '',
    sourceBranch: p.head.ref,
    targetBranch: p.base.ref,
    state: p.merged_at ? 'merged' : p.state,
  };
}

function toUser(u: z.infer<typeof user> | null): ForgeUser {
  // GitHub shows a deleted account as @ghost.
  if (!u) return { id: 0, login: 'ghost', isBot: false };
  return { id: u.id, login: u.login, isBot: u.type === 'Bot' || u.login.endsWith('[bot]') };
}

/**
 * Each reviewer's standing verdict, the way GitHub counts it. Reviews come oldest first.
 * - APPROVED or CHANGES_REQUESTED replaces the reviewer's earlier verdict.
 * - COMMENTED stands only when the reviewer has no approval or change request: a comment
 *   after an approval does not withdraw the approval.
 * - DISMISSED (GitHub rewrites a dismissed review's own state) withdraws the reviewer's
 *   verdict; what they submit afterwards counts anew.
 * - PENDING (a draft review) and reviews by deleted accounts are ignored.
 */
function standingVerdicts(reviews: Array<z.infer<typeof review>>): ReviewVerdict[] {
  const byUser = new Map<number, ReviewVerdict>();
  for (const r of reviews) {
    if (!r.user) continue;
    const at = r.submitted_at ?? null;
    switch (r.state.toUpperCase()) {
      case 'APPROVED':
        byUser.set(r.user.id, { user: toUser(r.user), state: 'approved', at });
        break;
      case 'CHANGES_REQUESTED':
        byUser.set(r.user.id, { user: toUser(r.user), state: 'changes_requested', at });
        break;
      case 'COMMENTED': {
        const standing = byUser.get(r.user.id);
        if (!standing || standing.state === 'commented') byUser.set(r.user.id, { user: toUser(r.user), state: 'commented', at });
        break;
      }
      case 'DISMISSED':
        byUser.delete(r.user.id);
        break;
      default:
        break;
    }
  }
  return [...byUser.values()];
}

function reactionKind(content: string): Reaction['kind'] {
  return content === '+1' ? 'up' : content === '-1' ? 'down' : 'other';
}

/** Octokit hands a download over as a stream (or, in some runtimes, an ArrayBuffer). */
async function readArtifact(body: unknown, max: number): Promise<Buffer | null> {
  if (body === null || body === undefined) return Buffer.alloc(0);
  if (body instanceof ArrayBuffer) return body.byteLength > max ? null : Buffer.from(body);
  if (typeof (body as { getReader?: unknown }).getReader !== 'function') {
    throw new Error('GitHub: the artifact download did not return a byte stream');
  }
  return readAtMost(body as ReadableStream<Uint8Array>, max);
}

function parseResponse<S extends z.ZodType>(schema: S, data: unknown, method: string, url: string): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new ForgeApiError(0, method, url, `unexpected response: ${first?.path.join('.') || '(body)'}: ${first?.message ?? ''}`);
  }
  return result.data;
}

const octokitError = z.object({
  status: z.number(),
  message: z.string().optional(),
  request: z.object({ method: z.string(), url: z.string() }),
});

/** Octokit's RequestError keeps request headers (redacted); we keep status, method and URL. */
function toForgeApiError(error: unknown): unknown {
  if (error instanceof ForgeApiError) return error;
  // What retryingFetch throws (a rate limit to wait out, a timeout) reaches us wrapped by
  // Octokit as a RequestError with status 500; the original says what happened.
  if (error instanceof Error && error.cause instanceof ForgeApiError) return error.cause;
  const parsed = octokitError.safeParse(error);
  if (!parsed.success) return error;
  const { status, message, request } = parsed.data;
  const wrapped = new ForgeApiError(status, request.method, request.url, message);
  wrapped.cause = error;
  return wrapped;
}
