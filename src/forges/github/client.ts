/**
 * The Forge for one GitHub App installation, over the installation's Octokit (the one
 * `probot.auth(installationId)` returns). Responses are parsed with zod, failures become
 * ForgeApiError; retries happen below, in retryingFetch.
 */
import type { ProbotOctokit } from 'probot';
import { z } from 'zod';
import type { Forge, MergeRequestSummary, OpenMergeRequest, Permission, RepoLocator, ThreadRef } from '../forge.js';
import { ForgeApiError } from '../errors.js';

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

const installationToken = z.object({ token: z.string().min(1) });

/**
 * `maintain` folds to admin, like GitLab's Maintainer: both are the people who run the
 * repository day to day. `triage` can label but not push, so it is read.
 */
const ROLE_PERMISSIONS: Record<string, Permission> = {
  admin: 'admin',
  maintain: 'admin',
  write: 'write',
  triage: 'read',
  read: 'read',
  none: 'none',
};

export class GitHubForge implements Forge {
  readonly kind = 'github' as const;

  constructor(private readonly octokit: Octokit) {}

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
    const created = await this.call(comment, 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      owner,
      repo,
      issue_number: thread.number,
      body: text,
    });
    return created.id;
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

  async permissionOf(repoRef: RepoLocator, username: string): Promise<Permission> {
    const { owner, repo } = splitFullName(repoRef);
    try {
      const result = await this.call(
        collaboratorPermission,
        'GET /repos/{owner}/{repo}/collaborators/{username}/permission',
        { owner, repo, username },
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
      // 422 "A pull request already exists": a retry after a crash. Adopt the open one.
      const existing =
        error instanceof ForgeApiError && error.status === 422
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

/** The marker is an HTML comment, invisible when rendered; it must be in the body to be found. */
function withMarker(marker: string, body: string): string {
  return body.includes(marker) ? body : `${marker}\n${body}`;
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
  const parsed = octokitError.safeParse(error);
  if (!parsed.success) return error;
  const { status, message, request } = parsed.data;
  const wrapped = new ForgeApiError(status, request.method, request.url, message);
  wrapped.cause = error;
  return wrapped;
}
