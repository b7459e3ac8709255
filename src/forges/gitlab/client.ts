/**
 * The Forge for one GitLab host, acting with one bot token.
 *
 * Why plain REST v4 and not @gitbeaker/rest: gitbeaker's request handler calls the global
 * `fetch` with a fixed retry loop of its own (429/502, ten attempts); the only seam is a
 * whole `requesterFn`, which means re-implementing its URL, auth, body and error handling.
 * We need eight endpoints, our retry policy (retryingFetch, shared with GitHub, never
 * resending a POST that got a 500), an injectable fetch for tests, and zod-checked responses
 * (gitbeaker's are typed, not validated). A small client over fetch gives all of that.
 *
 * The token is kept in a private field and sent only in the `PRIVATE-TOKEN` header, never in
 * a URL, so it cannot reach an error message or a log line (error bodies are scrubbed too).
 */
import { z } from 'zod';
import type {
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
  ReviewVerdict,
  ThreadRef,
  UserRef,
} from '../forge.js';
import { readAtMost, withMarker } from '../bodies.js';
import { ForgeApiError } from '../errors.js';
import { retryingFetch, type RetryOptions } from '../http-retry.js';
import { isGitLabBot, toCoverage } from './normalize.js';

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

const note = z.object({ id: z.number().int(), body: z.string().nullish(), system: z.boolean().nullish() });

const mergeRequest = z.object({
  iid: z.number().int(),
  web_url: z.string(),
  title: z.string(),
  description: z.string().nullish(),
  source_branch: z.string(),
  target_branch: z.string(),
  /** opened, closed, merged, or `locked` (transiently, while merging). */
  state: z.string(),
});

/** A user as REST responses embed it. `bot` is only present in some (admin) responses. */
const user = z.object({ id: z.number().int(), username: z.string(), bot: z.boolean().nullish() });

const mergeRequestDetails = mergeRequest.extend({
  sha: z.string().nullish(),
  diff_refs: z.object({ head_sha: z.string().nullish() }).nullish(),
  author: user,
});

const approvals = z.object({
  approved_by: z.array(z.object({ user, approved_at: z.string().nullish() })).nullish(),
});

const reviewer = z.object({
  user,
  /** unreviewed, review_started, reviewed, requested_changes, approved, unapproved. */
  state: z.string(),
});

const awardEmoji = z.object({ id: z.number().int(), name: z.string(), user });

const job = z.object({
  id: z.number().int(),
  name: z.string(),
  /** One entry per artifact file: `archive` (what `artifacts:paths` uploads), `metadata`, reports. */
  artifacts: z.array(z.object({ file_type: z.string() })).nullish(),
  /** The archive, on older GitLab versions and alongside `artifacts` on newer ones. */
  artifacts_file: z.object({ filename: z.string().nullish() }).nullish(),
});
type Job = z.infer<typeof job>;

const pipeline = z.object({ id: z.number().int(), sha: z.string() });

/** `GET /projects/:id/issues/:iid`: `state` is `opened` or `closed`, labels are names. */
const issue = z.object({
  iid: z.number().int(),
  state: z.enum(['opened', 'closed']),
  title: z.string(),
  description: z.string().nullish(),
  labels: z.array(z.string()),
});
const pipelineDetails = pipeline.extend({ coverage: z.union([z.string(), z.number()]).nullish() });

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const MiB = 1024 * 1024;

const member = z.object({ access_level: z.number().int() });
const users = z.array(z.object({ id: z.number().int(), username: z.string() }));

/** GitLab access levels: Admin 60, Owner 50, Maintainer 40, Developer 30, Reporter 20, Planner 15, Guest 10, Minimal 5. */
function permissionFromAccessLevel(level: number): Permission {
  if (level >= 50) return 'admin';
  if (level >= 40) return 'maintain';
  if (level >= 30) return 'write';
  if (level >= 10) return 'read';
  return 'none';
}

interface CallOptions {
  query?: Record<string, string | number>;
  body?: Record<string, unknown>;
}

export class GitLabForge implements Forge {
  readonly kind = 'gitlab' as const;
  readonly host: string;
  readonly #apiRoot: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  readonly #maxReportBytes: number;

  constructor(options: GitLabForgeOptions) {
    const root = new URL(options.url);
    this.host = root.host;
    this.#apiRoot = `${root.origin}${root.pathname.replace(/\/+$/, '')}/api/v4`;
    this.#token = options.token;
    this.#fetch = retryingFetch(options.fetch ?? fetch, options.retry);
    this.#maxReportBytes = options.maxReportBytes ?? 50 * MiB;
  }

  async upsertComment(thread: ThreadRef, marker: string, body: string, knownId?: number | null): Promise<number> {
    const notesPath = `${threadPath(thread)}/notes`;
    const text = withMarker(marker, body);
    if (knownId != null) {
      try {
        await this.call(note, 'PUT', `${notesPath}/${knownId}`, { body: { body: text } });
        return knownId;
      } catch (error) {
        if (!(error instanceof ForgeApiError && error.status === 404)) throw error;
      }
    }

    const existing = await this.findNote(notesPath, marker);
    if (existing) {
      if (existing.body !== text) await this.call(note, 'PUT', `${notesPath}/${existing.id}`, { body: { body: text } });
      return existing.id;
    }
    const created = await this.call(note, 'POST', notesPath, { body: { body: text } });
    return created.id;
  }

  async addLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    // `add_labels` keeps the existing labels and ignores ones already there.
    await this.call(z.unknown(), 'PUT', threadPath(thread), { body: { add_labels: labels.join(',') } });
  }

  async removeLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    // `remove_labels` ignores labels the issue does not carry.
    await this.call(z.unknown(), 'PUT', threadPath(thread), { body: { remove_labels: labels.join(',') } });
  }

  async getIssue(repo: RepoLocator, number: number): Promise<IssueState | null> {
    try {
      const i = await this.call(issue, 'GET', `/projects/${repo.id}/issues/${number}`);
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
      const m = await this.call(member, 'GET', `/projects/${repo.id}/members/all/${id}`);
      return permissionFromAccessLevel(m.access_level);
    } catch (error) {
      if (error instanceof ForgeApiError && error.status === 404) return 'none';
      throw error;
    }
  }

  private async userIdOf(username: string): Promise<number | null> {
    const found = await this.call(users, 'GET', '/users', { query: { username } });
    return found.find((u) => u.username.toLowerCase() === username.toLowerCase())?.id ?? null;
  }

  async findMergeRequestByBranch(repo: RepoLocator, branch: string): Promise<MergeRequestSummary | null> {
    const found = await this.call(z.array(mergeRequest), 'GET', `/projects/${repo.id}/merge_requests`, {
      query: { source_branch: branch, state: 'opened', per_page: 1 },
    });
    return found[0] ? toSummary(found[0]) : null;
  }

  async openMergeRequest(repo: RepoLocator, request: OpenMergeRequest): Promise<MergeRequestSummary> {
    try {
      const created = await this.call(mergeRequest, 'POST', `/projects/${repo.id}/merge_requests`, {
        body: {
          source_branch: request.sourceBranch,
          target_branch: request.targetBranch,
          title: request.title,
          description: request.body,
          ...(request.labels.length > 0 ? { labels: request.labels.join(',') } : {}),
        },
      });
      return toSummary(created);
    } catch (error) {
      // 409 "Another open merge request already exists for this source branch": a retry after
      // a crash. Adopt the open one and make sure it carries the labels.
      const existing =
        error instanceof ForgeApiError && error.status === 409
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
    const updated = await this.call(mergeRequest, 'PUT', `/projects/${repo.id}/merge_requests/${number}`, {
      body: {
        ...(patch.title !== undefined ? { title: patch.title } : {}),
        ...(patch.body !== undefined ? { description: patch.body } : {}),
      },
    });
    return toSummary(updated);
  }

  /** Any non-empty username works with a token; `oauth2` is the documented one. */
  async gitCredential(_repo: RepoLocator): Promise<{ username: string; password: string }> {
    return { username: 'oauth2', password: this.#token };
  }

  async getMergeRequest(repo: RepoLocator, number: number): Promise<MergeRequestDetails> {
    const path = `/projects/${repo.id}/merge_requests/${number}`;
    const mr = await this.call(mergeRequestDetails, 'GET', path);
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
    const approval = await this.call(approvals, 'GET', `${mrPath}/approvals`);
    const reviewers = await this.all(reviewer, `${mrPath}/reviewers`);

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
    const awards = await this.all(awardEmoji, `/projects/${repo.id}/merge_requests/${number}/award_emoji`);
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
    const jobs = await this.all(job, `/projects/${repo.id}/pipelines/${pipelineId}/jobs`);
    for (const location of locations) {
      const path = artifactPath(location.path);
      const chosen = jobs
        .filter((j) => j.name === location.artifact && hasArchive(j))
        .reduce<Job | null>((best, j) => (best === null || j.id > best.id ? j : best), null);
      if (!chosen) continue;
      const text = await this.fetchText(`/projects/${repo.id}/jobs/${chosen.id}/artifacts/${path}`);
      if (text !== null) return text;
    }
    return null;
  }

  async latestSuccessfulPipeline(repo: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const found = await this.call(z.array(pipeline), 'GET', `/projects/${repo.id}/pipelines`, {
      query: { ref, status: 'success', order_by: 'id', sort: 'desc', per_page: 1 },
    });
    const latest = found[0];
    if (!latest) return null;
    // The list leaves `coverage` out; the single pipeline has it.
    const details = await this.call(pipelineDetails, 'GET', `/projects/${repo.id}/pipelines/${latest.id}`);
    return { id: details.id, sha: details.sha, coverage: toCoverage(details.coverage) };
  }

  /** Every page of a list endpoint (`x-next-page`), 100 items a page. */
  private async all<S extends z.ZodType>(schema: S, path: string): Promise<Array<z.infer<S>>> {
    const items: Array<z.infer<S>> = [];
    const list = z.array(schema);
    for (let page = 1; ; ) {
      const { data, nextPage } = await this.request(list, 'GET', path, { query: { per_page: 100, page } });
      items.push(...data);
      if (nextPage === null || Number.isNaN(nextPage) || nextPage <= page) return items;
      page = nextPage;
    }
  }

  /**
   * A raw file as text, null on 404, at most `maxReportBytes`. Redirects are followed by
   * hand: fetch would carry the PRIVATE-TOKEN header (not an Authorization header, so not
   * dropped) to whatever host GitLab redirects to, e.g. object storage. The token goes to
   * the GitLab origin only. Errors name the API URL, never a signed storage URL.
   */
  private async fetchText(path: string): Promise<string | null> {
    const apiUrl = new URL(`${this.#apiRoot}${path}`);
    let url = apiUrl;
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { accept: '*/*' };
      if (url.origin === apiUrl.origin) headers['PRIVATE-TOKEN'] = this.#token;
      const response = await this.#fetch(url, { method: 'GET', headers, redirect: 'manual' });

      if (REDIRECT_STATUSES.has(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        const location = response.headers.get('location');
        const next = location ? safeUrl(location, url) : null;
        if (!next || hops >= MAX_REDIRECTS) {
          throw new ForgeApiError(response.status, 'GET', apiUrl.toString(), next ? 'too many redirects' : 'redirect without a usable location');
        }
        url = next;
        continue;
      }
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      if (!response.ok) {
        throw new ForgeApiError(response.status, 'GET', apiUrl.toString(), this.scrub(errorDetail(await response.text())));
      }

      const max = this.#maxReportBytes;
      const declared = Number(response.headers.get('content-length'));
      const bytes = declared > max ? null : await readAtMost(response.body, max);
      if (bytes === null) {
        await response.body?.cancel().catch(() => undefined);
        throw new ForgeApiError(0, 'GET', apiUrl.toString(), `report is over the limit of ${max} bytes`);
      }
      return new TextDecoder('utf-8').decode(bytes);
    }
  }

  /** Pages through the notes (oldest first) until one carries `marker`. */
  private async findNote(notesPath: string, marker: string): Promise<{ id: number; body: string } | null> {
    for (let page = 1; ; ) {
      const { data, nextPage } = await this.request(z.array(note), 'GET', notesPath, {
        query: { sort: 'asc', order_by: 'created_at', per_page: 100, page },
      });
      const found = data.find((n) => !n.system && n.body?.includes(marker));
      if (found) return { id: found.id, body: found.body ?? '' };
      if (nextPage === null || nextPage <= page) return null;
      page = nextPage;
    }
  }

  private async call<S extends z.ZodType>(schema: S, method: string, path: string, options: CallOptions = {}): Promise<z.infer<S>> {
    return (await this.request(schema, method, path, options)).data;
  }

  /** One API call; non-2xx and unexpected bodies become ForgeApiError. */
  private async request<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    options: CallOptions,
  ): Promise<{ data: z.infer<S>; nextPage: number | null }> {
    const url = new URL(`${this.#apiRoot}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { 'PRIVATE-TOKEN': this.#token, accept: 'application/json' };
    if (options.body) headers['content-type'] = 'application/json';

    const response = await this.#fetch(url, {
      method,
      headers,
      ...(options.body ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    if (!response.ok) throw new ForgeApiError(response.status, method, url.toString(), this.scrub(errorDetail(text)));

    let json: unknown;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      throw new ForgeApiError(response.status, method, url.toString(), 'response is not JSON');
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      const first = result.error.issues[0];
      throw new ForgeApiError(0, method, url.toString(), `unexpected response: ${first?.path.join('.') || '(body)'}: ${first?.message ?? ''}`);
    }
    const next = response.headers.get('x-next-page');
    return { data: result.data, nextPage: next ? Number.parseInt(next, 10) : null };
  }

  private scrub(text: string): string {
    return this.#token ? text.split(this.#token).join('[REDACTED]') : text;
  }
}

function threadPath(thread: ThreadRef): string {
  return `/projects/${thread.repo.id}/${thread.on === 'issue' ? 'issues' : 'merge_requests'}/${thread.number}`;
}

function toSummary(mr: z.infer<typeof mergeRequest>): MergeRequestSummary {
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

function toUser(u: z.infer<typeof user>): ForgeUser {
  return { id: u.id, login: u.username, isBot: isGitLabBot(u) };
}

function hasArchive(j: Job): boolean {
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

function safeUrl(location: string, base: URL): URL | null {
  try {
    const next = new URL(location, base);
    return next.protocol === 'https:' || next.protocol === 'http:' ? next : null;
  } catch {
    return null;
  }
}


/** GitLab errors are `{ message }` (string, array or field map) or `{ error }`. */
function errorDetail(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null) {
      const value = 'message' in body ? body.message : 'error' in body ? body.error : body;
      return typeof value === 'string' ? value : JSON.stringify(value);
    }
  } catch {
    // not JSON: use the text as is
  }
  return text;
}
