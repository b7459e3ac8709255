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
import type { Forge, MergeRequestSummary, OpenMergeRequest, Permission, RepoLocator, ThreadRef } from '../forge.js';
import { ForgeApiError } from '../errors.js';
import { retryingFetch, type RetryOptions } from '../http-retry.js';

export interface GitLabForgeOptions {
  /** The GitLab host, e.g. `https://gitlab.example.com` (no `/api/v4`). */
  url: string;
  token: string;
  /** The fetch under retryingFetch; the global one by default. */
  fetch?: typeof fetch;
  retry?: RetryOptions;
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

const member = z.object({ access_level: z.number().int() });
const users = z.array(z.object({ id: z.number().int(), username: z.string() }));

/** GitLab access levels: Owner 50, Maintainer 40, Developer 30, Reporter 20, Planner 15, Guest 10, Minimal 5. */
function permissionFromAccessLevel(level: number): Permission {
  if (level >= 40) return 'admin';
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

  constructor(options: GitLabForgeOptions) {
    const root = new URL(options.url);
    this.host = root.host;
    this.#apiRoot = `${root.origin}${root.pathname.replace(/\/+$/, '')}/api/v4`;
    this.#token = options.token;
    this.#fetch = retryingFetch(options.fetch ?? fetch, options.retry);
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

  async permissionOf(repo: RepoLocator, username: string): Promise<Permission> {
    const found = await this.call(users, 'GET', '/users', { query: { username } });
    const user = found.find((u) => u.username.toLowerCase() === username.toLowerCase());
    if (!user) return 'none';
    try {
      // `members/all` includes access inherited from parent groups.
      const m = await this.call(member, 'GET', `/projects/${repo.id}/members/all/${user.id}`);
      return permissionFromAccessLevel(m.access_level);
    } catch (error) {
      if (error instanceof ForgeApiError && error.status === 404) return 'none';
      throw error;
    }
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

/** The marker is an HTML comment, invisible when rendered; it must be in the body to be found. */
function withMarker(marker: string, body: string): string {
  return body.includes(marker) ? body : `${marker}\n${body}`;
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
