/**
 * The Forge for one GitLab host, acting with one bot token, through @gitbeaker/rest.
 *
 * gitbeaker names the endpoints and builds the requests; its `requesterFn` seam is filled
 * with requester.ts, which sends them through `retryingFetch`, the retry policy shared with
 * GitHub (never resending a POST that got a 500, rate limits waited out or handed to the
 * inbox, a timeout on every attempt). gitbeaker's own retry loop, rate limiters and query
 * timeout are not used. Answers are validated with zod (schema.ts) before anything reads
 * them: gitbeaker's are typed, not checked.
 *
 * Pagination: list calls pass an explicit `page` with `showExpanded`, so gitbeaker returns
 * one page and GitLab's `x-next-page`; the loops here decide whether to read on (finding a
 * note by its marker stops at the page that has it).
 *
 * Where the token may travel: it is held by gitbeaker's resource objects (in a closure, not
 * a field) and sent only in the `PRIVATE-TOKEN` header, only to the GitLab origin (the
 * requester drops it when a download is redirected to object storage), never in a URL, so
 * it cannot reach an error message or a log line (error bodies are scrubbed too). It leaves
 * the process otherwise only as the git credential for pushes to this host.
 */
import {
  IssueNoteAwardEmojis,
  IssueNotes,
  Issues,
  JobArtifacts,
  Jobs,
  MergeRequestApprovals,
  MergeRequestAwardEmojis,
  MergeRequestDiscussions,
  MergeRequestNoteAwardEmojis,
  MergeRequestNotes,
  MergeRequests,
  Pipelines,
  ProjectMembers,
  Users as UsersApi,
} from '@gitbeaker/rest';
import type { z } from 'zod';
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
import { retryingFetch, type RetryOptions } from '../http-retry.js';
import type { PipelineRun } from '../event.js';
import { finishedPipelineStatus, isGitLabBot, toCoverage } from './normalize.js';
import { retryingRequesterFn } from './requester.js';
import * as S from './schema.js';

export interface GitLabForgeOptions {
  /** The GitLab host, e.g. `https://gitlab.example.com` (no `/api/v4`). */
  url: string;
  token: string;
  /** The fetch under retryingFetch; the global one by default. */
  fetch?: typeof fetch;
  retry?: RetryOptions;
  /** Largest report file read from job artifacts. Default 50 MiB. */
  maxReportBytes?: number;
}

const MiB = 1024 * 1024;

/** GitLab access levels: Admin 60, Owner 50, Maintainer 40, Developer 30, Reporter 20, Planner 15, Guest 10, Minimal 5. */
function permissionFromAccessLevel(level: number): Permission {
  if (level >= 50) return 'admin';
  if (level >= 40) return 'maintain';
  if (level >= 30) return 'write';
  if (level >= 10) return 'read';
  return 'none';
}

/** The gitbeaker resources the forge uses, all over one requester. */
function resources(host: string, token: string, requesterFn: ReturnType<typeof retryingRequesterFn>) {
  const options = { host, token, requesterFn, queryTimeout: null, camelize: false as const };
  return {
    issueNotes: new IssueNotes(options),
    mrNotes: new MergeRequestNotes(options),
    issueNoteAwards: new IssueNoteAwardEmojis(options),
    mrNoteAwards: new MergeRequestNoteAwardEmojis(options),
    issues: new Issues(options),
    mergeRequests: new MergeRequests(options),
    members: new ProjectMembers(options),
    users: new UsersApi(options),
    approvals: new MergeRequestApprovals(options),
    mrAwards: new MergeRequestAwardEmojis(options),
    mrDiscussions: new MergeRequestDiscussions(options),
    jobs: new Jobs(options),
    artifacts: new JobArtifacts(options),
    pipelines: new Pipelines(options),
  };
}

type Api = ReturnType<typeof resources>;
type PageCall = (page: number) => Promise<unknown>;

export class GitLabForge implements Forge {
  readonly kind = 'gitlab' as const;
  readonly host: string;
  readonly #apiRoot: string;
  readonly #token: string;
  readonly #api: Api;
  readonly #maxReportBytes: number;

  constructor(options: GitLabForgeOptions) {
    const root = new URL(options.url);
    const base = `${root.origin}${root.pathname.replace(/\/+$/, '')}`;
    this.host = root.host;
    this.#apiRoot = `${base}/api/v4`;
    this.#token = options.token;
    const requesterFn = retryingRequesterFn({
      fetch: retryingFetch(options.fetch ?? fetch, options.retry),
      scrub: (text) => this.scrub(text),
    });
    this.#api = resources(base, options.token, requesterFn);
    this.#maxReportBytes = options.maxReportBytes ?? 50 * MiB;
  }

  async upsertComment(thread: ThreadRef, marker: string, body: string, knownId?: number | null): Promise<number> {
    const text = withMarker(marker, body);
    if (knownId != null) {
      try {
        await this.editNote(thread, knownId, text);
        return knownId;
      } catch (error) {
        if (!(error instanceof ForgeApiError && error.status === 404)) throw error;
      }
    }

    const existing = await this.findNote(thread, marker);
    if (existing) {
      if (existing.body !== text) await this.editNote(thread, existing.id, text);
      return existing.id;
    }
    try {
      const { id, number } = { id: thread.repo.id, number: thread.number };
      const created = thread.on === 'issue' ? await this.#api.issueNotes.create(id, number, text) : await this.#api.mrNotes.create(id, number, text);
      return this.check(S.Note, 'POST', notesPath(thread), created).id;
    } catch (error) {
      return this.adoptPostedNote(thread, marker, error);
    }
  }

  private async editNote(thread: ThreadRef, noteId: number, text: string): Promise<void> {
    const { id, number } = { id: thread.repo.id, number: thread.number };
    const edited =
      thread.on === 'issue'
        ? await this.#api.issueNotes.edit(id, number, noteId, { body: text })
        : await this.#api.mrNotes.edit(id, number, noteId, { body: text });
    this.check(S.Note, 'PUT', `${notesPath(thread)}/${noteId}`, edited);
  }

  /**
   * After a POST that may have been performed (a 502, a dropped connection, a timeout), the
   * note is looked for by its marker before anything writes again. Not found: the error
   * stands, and the delivery's next try (which looks again) is the second POST.
   */
  private async adoptPostedNote(thread: ThreadRef, marker: string, error: unknown): Promise<number> {
    if (!mayHaveBeenApplied(error)) throw error;
    const posted = await this.findNote(thread, marker);
    if (!posted) throw error;
    return posted.id;
  }

  /**
   * Awards `eyes` to the note. GitLab refuses a second award of the same emoji by the same
   * user ("has already been taken"): that is the acknowledgement being there already, e.g.
   * after a retried delivery or a POST whose answer was lost.
   */
  async acknowledgeComment(thread: ThreadRef, comment: CommentRef): Promise<void> {
    const { id, number } = { id: thread.repo.id, number: thread.number };
    const commentId = comment.id;
    try {
      if (thread.on === 'issue') await this.#api.issueNoteAwards.award(id, number, commentId, 'eyes');
      else await this.#api.mrNoteAwards.award(id, number, commentId, 'eyes');
    } catch (error) {
      if (error instanceof ForgeApiError && error.status < 500 && /already been taken/i.test(error.message)) return;
      throw error;
    }
  }

  async addLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    // `add_labels` keeps the existing labels and ignores ones already there.
    const addLabels = labels.join(',');
    if (thread.on === 'issue') await this.#api.issues.edit(thread.repo.id, thread.number, { addLabels });
    else await this.#api.mergeRequests.edit(thread.repo.id, thread.number, { addLabels });
  }

  async removeLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    // `remove_labels` ignores labels the issue does not carry.
    const removeLabels = labels.join(',');
    if (thread.on === 'issue') await this.#api.issues.edit(thread.repo.id, thread.number, { removeLabels });
    else await this.#api.mergeRequests.edit(thread.repo.id, thread.number, { removeLabels });
  }

  async getIssue(repo: RepoLocator, number: number): Promise<IssueState | null> {
    try {
      const path = `/projects/${repo.id}/issues/${number}`;
      const i = this.check(S.Issue, 'GET', path, await this.#api.issues.show(number, { projectId: repo.id }));
      return { number: i.iid, state: i.state === 'opened' ? 'open' : 'closed', title: i.title, body: i.description ?? '', labels: i.labels };
    } catch (error) {
      if (error instanceof ForgeApiError && error.status === 404) return null;
      throw error;
    }
  }

  async permissionOf(repo: RepoLocator, user: UserRef): Promise<Permission> {
    const id = user.id ?? (await this.userIdOf(user.login));
    if (id === null) return 'none';
    try {
      // `members/all` includes access inherited from parent groups.
      const found = await this.#api.members.show(repo.id, id, { includeInherited: true });
      return permissionFromAccessLevel(this.check(S.Member, 'GET', `/projects/${repo.id}/members/all/${id}`, found).access_level);
    } catch (error) {
      if (error instanceof ForgeApiError && error.status === 404) return 'none';
      throw error;
    }
  }

  private async userIdOf(username: string): Promise<number | null> {
    const found = this.check(S.Users, 'GET', '/users', await this.#api.users.all({ username }));
    return found.find((u) => u.username.toLowerCase() === username.toLowerCase())?.id ?? null;
  }

  async findMergeRequestByBranch(repo: RepoLocator, branch: string): Promise<MergeRequestSummary | null> {
    const found = await this.#api.mergeRequests.all({ projectId: repo.id, sourceBranch: branch, state: 'opened', perPage: 1, maxPages: 1 });
    const list = this.check(S.MergeRequest.array(), 'GET', `/projects/${repo.id}/merge_requests`, found);
    return list[0] ? toSummary(list[0]) : null;
  }

  async openMergeRequest(repo: RepoLocator, request: OpenMergeRequest): Promise<MergeRequestSummary> {
    try {
      const created = await this.#api.mergeRequests.create(repo.id, request.sourceBranch, request.targetBranch, request.title, {
        description: request.body,
        ...(request.labels.length > 0 ? { labels: request.labels.join(',') } : {}),
      });
      return toSummary(this.check(S.MergeRequest, 'POST', `/projects/${repo.id}/merge_requests`, created));
    } catch (error) {
      // 409 "Another open merge request already exists for this source branch": a retry after
      // a crash. A 5xx, dropped connection or timeout: the POST may have opened it. Either way,
      // adopt the open one by its branch and make sure it carries the labels.
      const existing =
        (error instanceof ForgeApiError && error.status === 409) || mayHaveBeenApplied(error)
          ? await this.findMergeRequestByBranch(repo, request.sourceBranch)
          : null;
      if (!existing) throw error;
      await this.addLabels({ repo, number: existing.number, on: 'merge_request' }, request.labels);
      return existing;
    }
  }

  async updateMergeRequest(
    repo: RepoLocator,
    number: number,
    patch: { title?: string; body?: string },
  ): Promise<MergeRequestSummary> {
    const updated = await this.#api.mergeRequests.edit(repo.id, number, {
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.body !== undefined ? { description: patch.body } : {}),
    });
    return toSummary(this.check(S.MergeRequest, 'PUT', `/projects/${repo.id}/merge_requests/${number}`, updated));
  }

  /** Any non-empty username works with a token; `oauth2` is the documented one. */
  async gitCredential(_repo: RepoLocator): Promise<{ username: string; password: string }> {
    return { username: 'oauth2', password: this.#token };
  }

  async getMergeRequest(repo: RepoLocator, number: number): Promise<MergeRequestDetails> {
    const path = `/projects/${repo.id}/merge_requests/${number}`;
    const mr = this.check(S.MergeRequestDetails, 'GET', path, await this.#api.mergeRequests.show(repo.id, number));
    const headSha = mr.sha ?? mr.diff_refs?.head_sha;
    if (!headSha) throw new ForgeApiError(0, 'GET', `${this.#apiRoot}${path}`, 'unexpected response: sha: the merge request has no head commit');
    return { ...toSummary(mr), headSha, author: toUser(mr.author) };
  }

  /**
   * Approvals come from the approvals endpoint, the one GitLab's merge checks count; reviewer
   * states add what approvals cannot say. Per user:
   * - `requested_changes` → changes_requested, even if an approval is also listed (GitLab
   *   removes the approval when changes are requested, so both at once is a stale read, and
   *   the blocking verdict is the safer one);
   * - otherwise an approval → approved (approvers need not be assigned reviewers);
   * - otherwise `reviewed` → commented;
   * - `approved` without a listed approval (reset by a new push, or revoked) and
   *   `unapproved`, `unreviewed`, `review_started` → no verdict: withdrawn or not given.
   * `at` is the approval time when GitLab says (`approved_at`, GitLab 17.x); reviewer
   * states carry only the assignment time, which is not the verdict's, so null.
   */
  async reviews(repo: RepoLocator, number: number): Promise<ReviewVerdict[]> {
    const mrPath = `/projects/${repo.id}/merge_requests/${number}`;
    const approval = this.check(S.Approvals, 'GET', `${mrPath}/approvals`, await this.#api.approvals.showConfiguration(repo.id, { mergerequestIId: number }));
    const reviewers = await this.all(S.Reviewer, `${mrPath}/reviewers`, (page) => {
      // The endpoint pages like every list; gitbeaker's types leave the paging options out.
      const paging = { perPage: 100, page, showExpanded: true as const };
      return this.#api.mergeRequests.showReviewers(repo.id, number, paging);
    });

    const verdicts = new Map<number, ReviewVerdict>();
    for (const a of approval.approved_by ?? []) {
      verdicts.set(a.user.id, { user: toUser(a.user), state: 'approved', at: a.approved_at ?? null });
    }
    for (const r of reviewers) {
      if (r.state === 'requested_changes') {
        verdicts.set(r.user.id, { user: toUser(r.user), state: 'changes_requested', at: null });
      } else if (r.state === 'reviewed' && !verdicts.has(r.user.id)) {
        verdicts.set(r.user.id, { user: toUser(r.user), state: 'commented', at: null });
      }
    }
    return [...verdicts.values()];
  }

  async reactions(repo: RepoLocator, number: number): Promise<Reaction[]> {
    const awards = await this.all(S.AwardEmoji, `/projects/${repo.id}/merge_requests/${number}/award_emoji`, (page) =>
      this.#api.mrAwards.all(repo.id, number, { perPage: 100, page, showExpanded: true }),
    );
    return awards.map((a) => ({
      user: toUser(a.user),
      kind: a.name === 'thumbsup' ? 'up' : a.name === 'thumbsdown' ? 'down' : 'other',
    }));
  }

  /**
   * Lists the pipeline's jobs once (latest attempts only: GitLab leaves retried jobs out by
   * default; bridge jobs have no artifacts and are not listed), then for each location takes
   * the newest job of that name with an artifacts archive and fetches the one file from it.
   * A job or file that is not there (404) moves on to the next location. Only files in the
   * archive (`artifacts:paths`) can be read this way; `artifacts:reports` alone are not in it.
   */
  async report(repo: RepoLocator, pipelineId: number, locations: ReportLocation[]): Promise<string | null> {
    if (locations.length === 0) return null;
    const jobs = await this.all(S.Job, `/projects/${repo.id}/pipelines/${pipelineId}/jobs`, (page) =>
      this.#api.jobs.all(repo.id, { pipelineId, perPage: 100, page, showExpanded: true }),
    );
    for (const location of locations) {
      const path = artifactPath(location.path);
      const chosen = jobs
        .filter((j) => j.name === location.artifact && hasArchive(j))
        .reduce<S.Job | null>((best, j) => (best === null || j.id > best.id ? j : best), null);
      if (!chosen) continue;
      const text = await this.artifactText(repo, chosen.id, path);
      if (text !== null) return text;
    }
    return null;
  }

  async pipelineCoverage(repo: RepoLocator, pipelineId: number): Promise<number | null> {
    return toCoverage((await this.pipeline(repo, pipelineId)).coverage);
  }

  async latestSuccessfulPipeline(repo: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const found = await this.#api.pipelines.all(repo.id, { ref, status: 'success', orderBy: 'id', sort: 'desc', perPage: 1, maxPages: 1 });
    const latest = this.check(S.Pipeline.array(), 'GET', `/projects/${repo.id}/pipelines`, found)[0];
    if (!latest) return null;
    // The list leaves `coverage` out; the single pipeline has it.
    const details = await this.pipeline(repo, latest.id);
    return { id: details.id, sha: details.sha, coverage: toCoverage(details.coverage) };
  }

  /**
   * The merge request's own pipelines on its head commit (its merge request pipelines and its
   * source branch's), newest first, as the Pipeline Hook would have said them. The list has no
   * `coverage`: the evaluator reads it from the single pipeline, as for a hook without one.
   */
  async headPipelines(repo: RepoLocator, mr: { number: number; headSha: string }): Promise<PipelineRun[]> {
    const path = `/projects/${repo.id}/merge_requests/${mr.number}/pipelines`;
    const found = this.check(S.MergeRequestPipeline.array(), 'GET', path, await this.#api.mergeRequests.allPipelines(repo.id, mr.number, { perPage: 100, maxPages: 1 }));
    return found.flatMap((p): PipelineRun[] => {
      const status = finishedPipelineStatus(p.status);
      if (!status || p.sha !== mr.headSha) return [];
      return [{
        status,
        origin: { kind: 'gitlab_pipeline', source: p.source ?? null },
        pipelineId: p.id,
        sha: p.sha,
        ref: p.ref,
        mergeRequestNumbers: p.ref === `refs/merge-requests/${mr.number}/head` ? [mr.number] : [],
        url: p.web_url,
        coverage: null,
      }];
    });
  }

  /**
   * The notes of unresolved discussions, oldest first: what reviewers still want changed.
   * Resolved threads, plain (non-resolvable) comments and system notes are left out.
   */
  async reviewComments(repo: RepoLocator, number: number): Promise<ReviewComment[]> {
    const discussions = await this.all(S.Discussion, `/projects/${repo.id}/merge_requests/${number}/discussions`, (page) =>
      this.#api.mrDiscussions.all(repo.id, number, { perPage: 100, page, showExpanded: true }),
    );
    return discussions.flatMap((d) => {
      const notes = (d.notes ?? []).filter((n) => !n.system);
      if (!notes.some((n) => n.resolvable && !n.resolved)) return [];
      return notes.map((n) => ({
        author: toUser(n.author),
        body: n.body ?? '',
        path: n.position?.new_path ?? n.position?.old_path ?? null,
        line: n.position?.new_line ?? n.position?.old_line ?? null,
      }));
    });
  }

  /** The pipeline's failed jobs (latest attempts), leaving out those allowed to fail. */
  async failedJobs(repo: RepoLocator, pipelineId: number): Promise<CiJob[]> {
    const jobs = await this.all(S.CiJob, `/projects/${repo.id}/pipelines/${pipelineId}/jobs`, (page) =>
      this.#api.jobs.all(repo.id, { pipelineId, scope: ['failed'], perPage: 100, page, showExpanded: true } as never),
    );
    return jobs.filter((j) => j.status === 'failed' && !j.allow_failure).map((j) => ({ id: j.id, name: j.name, url: j.web_url ?? null }));
  }

  async latestPipeline(repo: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const found = await this.#api.pipelines.all(repo.id, { ref, scope: 'finished', orderBy: 'id', sort: 'desc', perPage: 1, maxPages: 1 });
    const latest = this.check(S.Pipeline.array(), 'GET', `/projects/${repo.id}/pipelines`, found)[0];
    return latest ? { id: latest.id, sha: latest.sha, coverage: null } : null;
  }

  /** The job's trace, its last `maxBytes` (a trace can be many megabytes; the failure is near its end). */
  async jobLog(repo: RepoLocator, jobId: number, maxBytes: number): Promise<string> {
    const path = `/projects/${repo.id}/jobs/${jobId}/trace`;
    const found = await this.#api.jobs.showLog(repo.id, jobId, { asStream: true, showExpanded: true } as never);
    const file = this.check(S.RawFile, 'GET', path, found);
    const { bytes } = await readTail(file.data, maxBytes);
    return new TextDecoder('utf-8').decode(bytes);
  }

  private async pipeline(repo: RepoLocator, pipelineId: number): Promise<z.infer<typeof S.PipelineDetails>> {
    const found = await this.#api.pipelines.show(repo.id, pipelineId);
    return this.check(S.PipelineDetails, 'GET', `/projects/${repo.id}/pipelines/${pipelineId}`, found);
  }

  /** Every page of a list endpoint (`x-next-page`), 100 items a page. */
  private async all<T extends z.ZodType>(item: T, path: string, call: PageCall): Promise<Array<z.infer<T>>> {
    const items: Array<z.infer<T>> = [];
    const schema = S.Page(item);
    for (let page = 1; ; ) {
      const { data, paginationInfo } = this.check(schema, 'GET', path, await call(page));
      items.push(...data);
      const next = paginationInfo.next;
      if (next === null || next <= page) return items;
      page = next;
    }
  }

  /**
   * A file from a job's artifacts archive as text, null on 404, at most `maxReportBytes`.
   * Errors name the API URL, never a signed storage URL the requester was redirected to.
   */
  private async artifactText(repo: RepoLocator, jobId: number, artifactPath: string): Promise<string | null> {
    const apiUrl = `${this.#apiRoot}/projects/${repo.id}/jobs/${jobId}/artifacts/${artifactPath}`;
    let file: z.infer<typeof S.RawFile>;
    try {
      // `asStream` keeps the body unread (gitbeaker passes it on; its types leave it out).
      const options = { jobId, artifactPath, asStream: true, showExpanded: true as const };
      const found = await this.#api.artifacts.downloadArchive(repo.id, options);
      file = this.check(S.RawFile, 'GET', apiUrl.slice(this.#apiRoot.length), found);
    } catch (error) {
      if (error instanceof ForgeApiError && error.status === 404) return null;
      throw error;
    }
    const max = this.#maxReportBytes;
    const declared = Number(file.headers['content-length']);
    const bytes = declared > max ? null : await readAtMost(file.data, max);
    if (bytes === null) {
      await file.data?.cancel().catch(() => undefined);
      throw new ForgeApiError(0, 'GET', apiUrl, `report is over the limit of ${max} bytes`);
    }
    return new TextDecoder('utf-8').decode(bytes);
  }

  /** Pages through the notes (oldest first) until one carries `marker`. */
  private async findNote(thread: ThreadRef, marker: string): Promise<{ id: number; body: string } | null> {
    const schema = S.Page(S.Note);
    const { id, number } = { id: thread.repo.id, number: thread.number };
    for (let page = 1; ; ) {
      const options = { sort: 'asc', orderBy: 'created_at', perPage: 100, page, showExpanded: true } as const;
      const found = thread.on === 'issue' ? await this.#api.issueNotes.all(id, number, options) : await this.#api.mrNotes.all(id, number, options);
      const { data, paginationInfo } = this.check(schema, 'GET', notesPath(thread), found);
      const note = data.find((n) => !n.system && n.body?.includes(marker));
      if (note) return { id: note.id, body: note.body ?? '' };
      if (paginationInfo.next === null || paginationInfo.next <= page) return null;
      page = paginationInfo.next;
    }
  }

  /** What gitbeaker returned, validated; an unexpected shape is a ForgeApiError naming the call. */
  private check<T extends z.ZodType>(schema: T, method: string, path: string, value: unknown): z.infer<T> {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const first = result.error.issues[0];
    throw new ForgeApiError(0, method, `${this.#apiRoot}${path}`, `unexpected response: ${first?.path.join('.') || '(body)'}: ${first?.message ?? ''}`);
  }

  private scrub(text: string): string {
    return this.#token ? text.split(this.#token).join('[REDACTED]') : text;
  }
}

function notesPath(thread: ThreadRef): string {
  return `${threadPath(thread)}/notes`;
}

function threadPath(thread: ThreadRef): string {
  return `/projects/${thread.repo.id}/${thread.on === 'issue' ? 'issues' : 'merge_requests'}/${thread.number}`;
}

function toSummary(mr: S.MergeRequest): MergeRequestSummary {
  return {
    number: mr.iid,
    url: mr.web_url,
    title: mr.title,
    body: mr.description ?? '',
    sourceBranch: mr.source_branch,
    targetBranch: mr.target_branch,
    state: mr.state === 'merged' ? 'merged' : mr.state === 'closed' ? 'closed' : 'open',
  };
}

function toUser(u: S.User): ForgeUser {
  return { id: u.id, login: u.username, isBot: isGitLabBot(u) };
}

function hasArchive(j: S.Job): boolean {
  return (j.artifacts ?? []).some((a) => a.file_type === 'archive') || j.artifacts_file != null;
}

/**
 * The path inside the artifacts archive, each segment URL-encoded. `.` and `..` segments are
 * refused: a URL parser would resolve them and the request would leave the job's artifacts.
 */
function artifactPath(path: string): string {
  const segments = path.replace(/^(\.\/|\/)+/, '').split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`GitLab: report path "${path}" must be a relative path without empty, "." or ".." segments`);
  }
  return segments.map(encodeURIComponent).join('/');
}
