/**
 * A stateful stand-in for the GitHub REST API at the HTTP boundary (nock), for one
 * repository and one App installation, answering with the shapes GitHub documents: issue
 * comments and labels, pull requests, reviews, reactions, collaborator permissions and
 * workflow-run artifacts.
 */
import nock from 'nock';

const API = 'https://api.github.com';
/** Where GitHub redirects a job log download to (a signed storage URL). */
const LOGS = 'https://pipelines.actions.githubusercontent.com';

export interface GhUser {
  login: string;
  id: number;
  type: 'User' | 'Bot';
}

export interface FakePull {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  merged_at: string | null;
  head: { ref: string; sha: string };
  base: { ref: string };
  html_url: string;
  user: GhUser;
  labels: string[];
}

/** The legacy `permission` GitHub sends beside `role_name`: maintain folds to write, triage to read. */
const LEGACY: Record<string, string> = { admin: 'admin', maintain: 'write', write: 'write', triage: 'read', read: 'read' };

/** GitHub's answer to `GET /repos/{owner}/{repo}/collaborators/{username}/permission`. */
export function collaboratorPermission(login: string, role: string) {
  return {
    permission: LEGACY[role] ?? 'read',
    role_name: role,
    user: { login, id: 1000 + login.length, type: 'User', site_admin: false, role_name: role },
  };
}

/**
 * For tests that mock GitHub call by call: every collaborator-permission lookup on `repo`
 * answers with the role `roles` gives the login, else 404. Default: everyone writes.
 */
export function githubPermissions(repo: string, roles: (login: string) => string | null = () => 'write'): nock.Scope {
  return nock(API)
    .persist()
    .get(new RegExp(`^/repos/${repo}/collaborators/[^/]+/permission$`))
    .reply((uri) => {
      const login = decodeURIComponent(uri.split('/').at(-2)!);
      const role = roles(login);
      return role === null ? [404, { message: 'Not Found', status: '404' }] : [200, collaboratorPermission(login, role)];
    });
}

export class FakeGitHub {
  calls: { method: string; path: string; body: Record<string, unknown> }[] = [];
  comments = new Map<number, { id: number; body: string; user: GhUser }[]>();
  pulls: FakePull[] = [];
  reviews = new Map<number, { id: number; user: GhUser; state: string; submitted_at: string; commit_id: string }[]>();
  reactions = new Map<number, { id: number; user: GhUser; content: string }[]>();
  /**
   * Collaborator roles by login; anyone else answers 404 (not a collaborator). The sender of
   * the published webhook examples, `Codertocat`, is a writer by default, so a labeled issue
   * starts a task unless a test says otherwise.
   */
  permissions = new Map<string, string>([['Codertocat', 'write']]);
  /** Issues by number as GitHub holds them now; `GET /issues/{n}` answers from here (404 when absent). */
  issues = new Map<number, { number: number; state: 'open' | 'closed'; title: string; body: string; labels: string[] }>();
  /** Artifacts per workflow run: name → zip bytes. Only these runs exist: another id is a 404, as on GitHub. */
  artifacts = new Map<number, Map<string, Buffer>>();
  /** Finished workflow runs, as `GET /actions/runs` lists them (newest first). */
  workflowRuns: { id: number; head_sha: string; head_branch: string; event: string; conclusion: string; pull_requests?: { number: number }[] }[] = [];
  /** Check suites by commit, as `GET /commits/{ref}/check-suites` lists them. */
  checkSuites: { id: number; head_sha: string; head_branch: string | null; conclusion: string | null; app: { id: number; slug: string } }[] = [];
  /** Commit statuses, newest first, as `GET /commits/{ref}/statuses` lists them. */
  statuses: { id: number; sha: string; state: string; context: string; target_url: string | null }[] = [];
  /** Review bodies and inline comments by review id (`GET /pulls/{n}/reviews/{id}` and `…/comments`). */
  reviewBodies = new Map<number, string>();
  reviewComments = new Map<number, { id: number; user: GhUser; body: string; path: string; line: number | null; original_line: number }[]>();
  /** Jobs of each workflow run (`GET /actions/runs/{id}/jobs`), and each job's log (served, as GitHub does, by a redirect). */
  jobs = new Map<number, { id: number; name: string; conclusion: string }[]>();
  jobLogs = new Map<number, string>();
  private nextId = 3000;
  readonly bot: GhUser = { login: 'doom-rlvr[bot]', id: 41898282, type: 'Bot' };

  constructor(
    private readonly repo: string,
    private readonly installation: number,
    /** The issue number the test uses; pull requests are numbered after it. */
    private readonly lastIssue = 1,
  ) {}

  /**
   * Makes the issue what an `issues` webhook shows (GitHub's state when it sent it) and
   * returns the payload, to post it: `postGitHub(url, 'issues', github.issueFrom(payload))`.
   */
  issueFrom<P extends object>(payload: P): P {
    const i = (payload as { issue: { number: number; state?: string; title: string; body?: string | null; labels?: { name: string }[] } }).issue;
    this.issues.set(i.number, {
      number: i.number,
      state: i.state === 'closed' ? 'closed' : 'open',
      title: i.title,
      body: i.body ?? '',
      labels: (i.labels ?? []).map((l) => l.name),
    });
    return payload;
  }

  install(): this {
    const base = `/repos/${this.repo}`;
    const scope = nock(API).persist();
    const record = (method: string, uri: string, body: unknown) => {
      const path = uri.split('?')[0]!;
      this.calls.push({ method, path, body: (body ?? {}) as Record<string, unknown> });
      return path;
    };
    const num = (path: string, after: string) => Number(path.slice(path.indexOf(after) + after.length).split('/')[0]);
    const pullJson = (p: FakePull) => ({
      ...p,
      id: 100_000 + p.number,
      url: `${API}${base}/pulls/${p.number}`,
      labels: p.labels.map((name) => ({ name })),
      head: { ...p.head, label: `${this.repo.split('/')[0]}:${p.head.ref}` },
    });

    scope.post(`/app/installations/${this.installation}/access_tokens`).reply(201, () => ({
      token: `ghs_${'x'.repeat(36)}`,
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      permissions: { issues: 'write', pull_requests: 'write', contents: 'write' },
      repository_selection: 'selected',
    }));
    scope.get(new RegExp(`^${base}/issues/\\d+/comments`)).reply((uri) => {
      const n = num(record('GET', uri, {}), '/issues/');
      return [200, this.comments.get(n) ?? []];
    });
    scope.post(new RegExp(`^${base}/issues/\\d+/comments$`)).reply((uri, body) => {
      const n = num(record('POST', uri, body), '/issues/');
      const c = { id: this.nextId++, body: String((body as { body: string }).body), user: this.bot };
      this.comments.set(n, [...(this.comments.get(n) ?? []), c]);
      return [201, { ...c, html_url: `https://github.com/${this.repo}/issues/${n}#issuecomment-${c.id}` }];
    });
    scope.patch(new RegExp(`^${base}/issues/comments/\\d+$`)).reply((uri, body) => {
      const id = Number(record('PATCH', uri, body).split('/').pop());
      const c = [...this.comments.values()].flat().find((x) => x.id === id);
      if (!c) return [404, { message: 'Not Found' }];
      c.body = String((body as { body: string }).body);
      return [200, c];
    });
    scope.get(new RegExp(`^${base}/issues/\\d+$`)).reply((uri) => {
      const i = this.issues.get(num(record('GET', uri, {}), '/issues/'));
      if (!i) return [404, { message: 'Not Found' }];
      return [200, { ...i, id: 90_000 + i.number, html_url: `https://github.com/${this.repo}/issues/${i.number}`, labels: i.labels.map((name, k) => ({ id: k + 1, name })) }];
    });
    scope.delete(new RegExp(`^${base}/issues/\\d+/labels/[^/]+$`)).reply((uri) => {
      const path = record('DELETE', uri, {});
      const i = this.issues.get(num(path, '/issues/'));
      const name = decodeURIComponent(path.split('/').pop()!);
      if (!i?.labels.includes(name)) return [404, { message: 'Label does not exist' }];
      i.labels = i.labels.filter((l) => l !== name);
      return [200, i.labels.map((l, k) => ({ id: k + 1, name: l }))];
    });
    scope.post(new RegExp(`^${base}/issues/\\d+/labels$`)).reply((uri, body) => {
      const n = num(record('POST', uri, body), '/issues/');
      const labels = (body as { labels: string[] }).labels;
      const pull = this.pulls.find((p) => p.number === n);
      if (pull) pull.labels = [...new Set([...pull.labels, ...labels])];
      const issue = this.issues.get(n);
      if (issue) issue.labels = [...new Set([...issue.labels, ...labels])];
      return [200, labels.map((name, i) => ({ id: i + 1, name }))];
    });
    scope.get(`${base}/pulls`).query(true).reply((uri) => {
      record('GET', uri, {});
      const q = new URL(uri, API).searchParams;
      const head = q.get('head')?.split(':')[1];
      return [200, this.pulls.filter((p) => p.head.ref === head && p.state === (q.get('state') ?? 'open')).map(pullJson)];
    });
    scope.post(`${base}/pulls`).reply((uri, body) => {
      record('POST', uri, body);
      const b = body as { title: string; body: string; head: string; base: string };
      const number = this.lastIssue + this.pulls.length + 1;
      const p: FakePull = {
        number,
        title: b.title,
        body: b.body,
        state: 'open',
        merged_at: null,
        head: { ref: b.head, sha: '' },
        base: { ref: b.base },
        html_url: `https://github.com/${this.repo}/pull/${number}`,
        user: this.bot,
        labels: [],
      };
      this.pulls.push(p);
      return [201, pullJson(p)];
    });
    scope.patch(new RegExp(`^${base}/pulls/\\d+$`)).reply((uri, body) => {
      const p = this.pulls.find((x) => x.number === num(record('PATCH', uri, body), '/pulls/'));
      if (!p) return [404, { message: 'Not Found' }];
      Object.assign(p, body as Partial<FakePull>);
      return [200, pullJson(p)];
    });
    scope.get(new RegExp(`^${base}/pulls/\\d+$`)).reply((uri) => {
      const p = this.pulls.find((x) => x.number === num(record('GET', uri, {}), '/pulls/'));
      return p ? [200, pullJson(p)] : [404, { message: 'Not Found' }];
    });
    scope.get(new RegExp(`^${base}/pulls/\\d+/reviews/\\d+/comments`)).reply((uri) => {
      const id = num(record('GET', uri, {}), '/reviews/');
      return [200, (this.reviewComments.get(id) ?? []).map((c) => ({ ...c, pull_request_review_id: id, html_url: `https://github.com/${this.repo}/pull/2#discussion_r${c.id}` }))];
    });
    scope.get(new RegExp(`^${base}/pulls/\\d+/reviews/\\d+$`)).reply((uri) => {
      const path = record('GET', uri, {});
      const id = num(path, '/reviews/');
      const r = this.reviews.get(num(path, '/pulls/'))?.find((x) => x.id === id);
      return r ? [200, { ...r, body: this.reviewBodies.get(id) ?? '' }] : [404, { message: 'Not Found' }];
    });
    scope.get(new RegExp(`^${base}/pulls/\\d+/reviews(\\?|$)`)).reply((uri) => [200, this.reviews.get(num(record('GET', uri, {}), '/pulls/')) ?? []]);
    scope.get(new RegExp(`^${base}/actions/runs/\\d+/jobs`)).reply((uri) => {
      const run = num(record('GET', uri, {}), '/runs/');
      const jobs = (this.jobs.get(run) ?? []).map((j) => ({ ...j, run_id: run, status: 'completed', html_url: `https://github.com/${this.repo}/actions/runs/${run}/job/${j.id}` }));
      return [200, { total_count: jobs.length, jobs }];
    });
    scope.get(new RegExp(`^${base}/actions/jobs/\\d+/logs$`)).reply((uri) => {
      const id = num(record('GET', uri, {}), '/jobs/');
      if (!this.jobLogs.has(id)) return [404, { message: 'Not Found' }];
      return [302, '', { location: `${LOGS}/jobs/${id}/log.txt?sig=signed` }];
    });
    nock(LOGS)
      .persist()
      .get(/^\/jobs\/\d+\/log\.txt/)
      .reply((uri) => {
        const id = Number(uri.split('/')[2]);
        return [200, this.jobLogs.get(id) ?? '', { 'content-type': 'text/plain' }];
      });
    scope.get(new RegExp(`^${base}/issues/\\d+/reactions`)).reply((uri) => [200, this.reactions.get(num(record('GET', uri, {}), '/issues/')) ?? []]);
    scope.get(new RegExp(`^${base}/collaborators/[^/]+/permission$`)).reply((uri) => {
      const login = decodeURIComponent(record('GET', uri, {}).split('/').at(-2)!);
      const permission = this.permissions.get(login);
      if (!permission) return [404, { message: 'Not Found' }];
      return [200, collaboratorPermission(login, permission)];
    });
    scope.get(new RegExp(`^${base}/actions/runs/\\d+/artifacts`)).reply((uri) => {
      const run = num(record('GET', uri, {}), '/runs/');
      if (!this.artifacts.has(run)) return [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/actions/artifacts#list-workflow-run-artifacts', status: '404' }];
      const list = [...(this.artifacts.get(run) ?? new Map<string, Buffer>()).entries()].map(([name, zip], i) => ({
        id: run * 10 + i,
        name,
        size_in_bytes: zip.length,
        expired: false,
        archive_download_url: `${API}${base}/actions/artifacts/${run * 10 + i}/zip`,
      }));
      return [200, { total_count: list.length, artifacts: list }];
    });
    scope.get(new RegExp(`^${base}/actions/artifacts/\\d+/zip$`)).reply((uri) => {
      const id = num(record('GET', uri, {}), '/artifacts/');
      const zip = [...(this.artifacts.get(Math.floor(id / 10))?.values() ?? [])][id % 10];
      return zip ? [200, zip, { 'content-type': 'application/zip' }] : [404, { message: 'Not Found' }];
    });
    scope.get(`${base}/actions/runs`).query(true).reply((uri) => {
      record('GET', uri, {});
      const q = new URL(uri, API).searchParams;
      // `status` filters by conclusion (`success`) or by status (`completed`), as on GitHub.
      const status = q.get('status');
      const runs = this.workflowRuns
        .filter((r) => (q.has('head_sha') ? r.head_sha === q.get('head_sha') : r.head_branch === q.get('branch')))
        .filter((r) => (!q.get('event') || r.event === q.get('event')) && (!status || status === 'completed' || r.conclusion === status))
        .sort((a, b) => b.id - a.id)
        .map((r) => ({ ...r, status: 'completed', html_url: `https://github.com/${this.repo}/actions/runs/${r.id}`, pull_requests: r.pull_requests ?? [] }));
      return [200, { total_count: runs.length, workflow_runs: runs.slice(0, Number(q.get('per_page') ?? 30)) }];
    });
    scope.get(new RegExp(`^${base}/commits/[0-9a-f]+/check-suites`)).query(true).reply((uri) => {
      const sha = record('GET', uri, {}).split('/').at(-2);
      const suites = this.checkSuites.filter((c) => c.head_sha === sha).map((c) => ({ ...c, status: c.conclusion ? 'completed' : 'in_progress', pull_requests: [] }));
      return [200, { total_count: suites.length, check_suites: suites }];
    });
    scope.get(new RegExp(`^${base}/commits/[0-9a-f]+/statuses`)).query(true).reply((uri) => {
      const sha = record('GET', uri, {}).split('/').at(-2);
      return [200, this.statuses.filter((s) => s.sha === sha).map(({ sha: _sha, ...s }) => ({ ...s, description: null, creator: this.bot }))];
    });
    return this;
  }

  made(method: string, path: RegExp) {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }
}

/**
 * For tests that mock GitHub call by call: `GET /repos/{repo}/issues/{n}` answers with the
 * issue of the last payload passed through `from` (GitHub's state when it sent that webhook),
 * 404 before any. `postGitHub(url, 'issues', issues.from(payload))`.
 */
export function githubIssueState(repo: string) {
  let issue: unknown = null;
  nock(API)
    .persist()
    .get(new RegExp(`^/repos/${repo}/issues/\\d+$`))
    .reply(() => (issue ? [200, issue] : [404, { message: 'Not Found' }]));
  return {
    from<P extends object>(payload: P): P {
      issue = (payload as { issue?: unknown }).issue ?? null;
      return payload;
    },
  };
}
