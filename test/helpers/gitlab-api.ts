/**
 * A stateful stand-in for the GitLab REST API at the HTTP boundary (nock), answering with
 * the shapes GitLab documents: notes, issue label edits and merge requests, remembered across
 * calls so multi-step flows (sticky comment edits, MR updates on retry) behave as on GitLab.
 */
import nock from 'nock';
import { GITLAB_TOKEN, GITLAB_URL } from './app.js';

export interface RecordedCall {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

export interface FakeUser {
  id: number;
  username: string;
  bot?: boolean;
}

export interface FakePipeline {
  id: number;
  sha: string;
  ref: string;
  status: 'success' | 'failed';
  coverage: string | null;
  /** Jobs with the files in their artifacts archive. */
  jobs: { id: number; name: string; files: Record<string, string> }[];
}

export interface FakeMergeRequest {
  id: number;
  iid: number;
  project_id: number;
  title: string;
  description: string;
  state: 'opened' | 'closed' | 'merged';
  web_url: string;
  source_branch: string;
  target_branch: string;
  labels: string[];
  author: { id: number; username: string; bot: boolean };
  sha: string | null;
  approvedBy: FakeUser[];
  reviewers: { user: FakeUser; state: string }[];
  emoji: { name: string; user: FakeUser }[];
}

export interface FakeIssue {
  iid: number;
  state: 'opened' | 'closed';
  title: string;
  description: string;
  labels: string[];
}

export class FakeGitLab {
  calls: RecordedCall[] = [];
  notes = new Map<string, { id: number; body: string; system: boolean; noteable_type: string }[]>();
  mergeRequests: FakeMergeRequest[] = [];
  issueLabels = new Map<string, string[]>();
  /**
   * Project members by username, with their access level (30 = Developer, 40 = Maintainer).
   * The sender of GitLab's documented examples, `root` (id 1), is a Developer by default, so a
   * labeled issue starts a task unless a test says otherwise.
   */
  members = new Map<string, FakeUser & { access_level: number }>([['root', { id: 1, username: 'root', access_level: 30 }]]);
  pipelines: FakePipeline[] = [];
  /** Issues by iid as the forge holds them now; `GET /issues/:iid` answers from here (404 when absent). */
  issues = new Map<number, FakeIssue>();
  /** Discussions of each merge request by iid, as `GET /merge_requests/:iid/discussions` lists them. */
  discussions = new Map<number, { id: string; notes: { id: number; body: string; author: FakeUser; system: boolean; resolvable: boolean; resolved: boolean; position?: { new_path: string; new_line: number } }[] }[]>();
  /** While set, reading a merge request answers 404 (an outage, a permission change). */
  mergeRequestsUnreadable = false;
  private nextId = 500;

  /**
   * Makes the issue what an Issue Hook shows (the forge's state when it sent the hook) and
   * returns the hook, to post it: `postGitLab(url, 'Issue Hook', gitlab.issueFrom(hook))`.
   */
  issueFrom<H extends { object_attributes: { iid: number; state?: string; title: string; description?: string | null }; labels?: { title: string }[] }>(hook: H): H {
    const a = hook.object_attributes;
    this.issues.set(a.iid, {
      iid: a.iid,
      state: a.state === 'closed' ? 'closed' : 'opened',
      title: a.title,
      description: a.description ?? '',
      labels: (hook.labels ?? []).map((l) => l.title),
    });
    return hook;
  }

  install(): this {
    const scope = nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } }).persist();
    const record = (method: string, uri: string, body: unknown) => {
      const call = { method, path: uri.split('?')[0]!, body: (body ?? {}) as Record<string, unknown> };
      this.calls.push(call);
      return call;
    };
    scope.get(/\/api\/v4\/projects\/\d+\/issues\/\d+$/).reply((uri) => {
      const call = record('GET', uri, {});
      const issue = this.issues.get(Number(call.path.split('/').pop()));
      return issue ? [200, { id: 10_000 + issue.iid, project_id: 1, ...issue }] : [404, { message: '404 Not found' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/(issues|merge_requests)\/\d+\/notes/).reply((uri) => {
      const call = record('GET', uri, {});
      return [200, this.notes.get(call.path) ?? [], { 'x-next-page': '' }];
    });
    scope.post(/\/api\/v4\/projects\/\d+\/(issues|merge_requests)\/\d+\/notes$/).reply((uri, body) => {
      const call = record('POST', uri, body);
      const note = { id: this.nextId++, body: String(call.body.body), system: false, noteable_type: 'Issue' };
      this.notes.set(call.path, [...(this.notes.get(call.path) ?? []), note]);
      return [201, { ...note, author: { id: 99, username: 'project_1_bot_3f2c', bot: true }, created_at: new Date().toISOString() }];
    });
    scope.put(/\/api\/v4\/projects\/\d+\/(issues|merge_requests)\/\d+\/notes\/\d+$/).reply((uri, body) => {
      const call = record('PUT', uri, body);
      const [, list, id] = /^(.*\/notes)\/(\d+)$/.exec(call.path)!;
      const note = (this.notes.get(list!) ?? []).find((n) => n.id === Number(id));
      if (!note) return [404, { message: '404 Not found' }];
      note.body = String(call.body.body);
      return [200, note];
    });
    scope.put(/\/api\/v4\/projects\/\d+\/issues\/\d+$/).reply((uri, body) => {
      const call = record('PUT', uri, body);
      const listed = (key: string) => String(call.body[key] ?? '').split(',').filter(Boolean);
      const labels = new Set([...(this.issueLabels.get(call.path) ?? []), ...listed('add_labels')]);
      for (const l of listed('remove_labels')) labels.delete(l);
      this.issueLabels.set(call.path, [...labels]);
      const issue = this.issues.get(Number(call.path.split('/').pop()));
      if (issue) issue.labels = [...new Set([...issue.labels, ...listed('add_labels')])].filter((l) => !listed('remove_labels').includes(l));
      return [200, { id: 1, iid: Number(call.path.split('/').pop()), labels: [...labels], state: 'opened' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests$/).query(true).reply((uri) => {
      record('GET', uri, {});
      const query = new URL(uri, GITLAB_URL).searchParams;
      const found = this.mergeRequests.filter(
        (m) => m.source_branch === query.get('source_branch') && (query.get('state') ?? 'opened') === m.state,
      );
      return [200, found];
    });
    scope.post(/\/api\/v4\/projects\/\d+\/merge_requests$/).reply((uri, body) => {
      const call = record('POST', uri, body);
      const b = call.body as Record<string, string>;
      if (this.mergeRequests.some((m) => m.source_branch === b.source_branch && m.state === 'opened')) {
        return [409, { message: ['Another open merge request already exists for this source branch: !1'] }];
      }
      const projectId = Number(call.path.split('/')[4]);
      const iid = this.mergeRequests.length + 1;
      const mr: FakeMergeRequest = {
        id: 9000 + iid,
        iid,
        project_id: projectId,
        title: b.title!,
        description: b.description!,
        state: 'opened',
        web_url: `${GITLAB_URL}/gitlabhq/gitlab-test/-/merge_requests/${iid}`,
        source_branch: b.source_branch!,
        target_branch: b.target_branch!,
        labels: (b.labels ?? '').split(',').filter(Boolean),
        author: { id: 99, username: 'project_1_bot_3f2c', bot: true },
        sha: null,
        approvedBy: [],
        reviewers: [],
        emoji: [],
      };
      this.mergeRequests.push(mr);
      return [201, mr];
    });
    scope.put(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+$/).reply((uri, body) => {
      const call = record('PUT', uri, body);
      const mr = this.mergeRequests.find((m) => m.iid === Number(call.path.split('/').pop()));
      if (!mr) return [404, { message: '404 Not found' }];
      if (typeof call.body.title === 'string') mr.title = call.body.title;
      if (typeof call.body.description === 'string') mr.description = call.body.description;
      return [200, mr];
    });

    const mrOf = (path: string) => this.mergeRequests.find((m) => m.iid === Number(/merge_requests\/(\d+)/.exec(path)?.[1]));
    const shape = (m: FakeMergeRequest) => {
      const { approvedBy: _a, reviewers: _r, emoji: _e, ...rest } = m;
      return { ...rest, diff_refs: { head_sha: m.sha } };
    };
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+$/).reply((uri) => {
      const mr = mrOf(record('GET', uri, {}).path);
      return mr && !this.mergeRequestsUnreadable ? [200, shape(mr)] : [404, { message: '404 Not found' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+\/discussions/).query(true).reply((uri) => {
      const iid = Number(/merge_requests\/(\d+)/.exec(record('GET', uri, {}).path)?.[1]);
      const list = (this.discussions.get(iid) ?? []).map((d) => ({ ...d, individual_note: false, notes: d.notes.map((n) => ({ ...n, type: n.position ? 'DiffNote' : 'DiscussionNote', noteable_type: 'MergeRequest' })) }));
      return [200, list, { 'x-next-page': '' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+\/approvals/).reply((uri) => {
      const mr = mrOf(record('GET', uri, {}).path);
      return [200, { approved: (mr?.approvedBy.length ?? 0) > 0, approved_by: (mr?.approvedBy ?? []).map((user) => ({ user })) }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+\/reviewers/).query(true).reply((uri) => {
      const mr = mrOf(record('GET', uri, {}).path);
      return [200, mr?.reviewers ?? [], { 'x-next-page': '' }];
    });
    // The MR's own pipelines: its merge request pipelines and its source branch's, newest first.
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+\/pipelines/).query(true).reply((uri) => {
      const mr = mrOf(record('GET', uri, {}).path);
      if (!mr) return [404, { message: '404 Not found' }];
      const own = this.pipelines
        .filter((p) => p.ref === mr.source_branch || p.ref === `refs/merge-requests/${mr.iid}/head`)
        .sort((a, b) => b.id - a.id)
        .map(({ id, sha, ref, status }) => ({ id, iid: id, project_id: 1, sha, ref, status, source: ref.startsWith('refs/merge-requests/') ? 'merge_request_event' : 'push', web_url: `${GITLAB_URL}/gitlabhq/gitlab-test/-/pipelines/${id}` }));
      return [200, own, { 'x-next-page': '' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/merge_requests\/\d+\/award_emoji/).query(true).reply((uri) => {
      const mr = mrOf(record('GET', uri, {}).path);
      return [200, (mr?.emoji ?? []).map((e, i) => ({ id: i + 1, name: e.name, user: e.user, awardable_type: 'MergeRequest' })), { 'x-next-page': '' }];
    });
    scope.get('/api/v4/users').query(true).reply((uri) => {
      record('GET', uri, {});
      const name = new URL(uri, GITLAB_URL).searchParams.get('username');
      const m = name ? this.members.get(name) : undefined;
      return [200, m ? [{ id: m.id, username: m.username, state: 'active' }] : []];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/members\/all\/\d+$/).reply((uri) => {
      const id = Number(record('GET', uri, {}).path.split('/').pop());
      const m = [...this.members.values()].find((x) => x.id === id);
      return m ? [200, { id: m.id, username: m.username, access_level: m.access_level, state: 'active' }] : [404, { message: '404 Not found' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/pipelines$/).query(true).reply((uri) => {
      record('GET', uri, {});
      const q = new URL(uri, GITLAB_URL).searchParams;
      const found = this.pipelines
        .filter((p) => p.ref === q.get('ref') && p.status === q.get('status'))
        .sort((a, b) => b.id - a.id)
        .map(({ id, sha, ref, status }) => ({ id, sha, ref, status }));
      return [200, found.slice(0, Number(q.get('per_page') ?? 20))];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/pipelines\/\d+$/).reply((uri) => {
      const id = Number(record('GET', uri, {}).path.split('/').pop());
      const p = this.pipelines.find((x) => x.id === id);
      return p ? [200, { id: p.id, sha: p.sha, ref: p.ref, status: p.status, coverage: p.coverage }] : [404, { message: '404 Not found' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/pipelines\/\d+\/jobs/).query(true).reply((uri) => {
      const p = this.pipelines.find((x) => x.id === Number(/pipelines\/(\d+)/.exec(uri)?.[1]));
      record('GET', uri, {});
      const jobs = (p?.jobs ?? []).map((j) => ({ id: j.id, name: j.name, status: 'success', artifacts: [{ file_type: 'archive' }] }));
      return [200, jobs, { 'x-next-page': '' }];
    });
    scope.get(/\/api\/v4\/projects\/\d+\/jobs\/\d+\/artifacts\/.+/).reply((uri) => {
      const path = record('GET', uri, {}).path;
      const [, jobId, file] = /jobs\/(\d+)\/artifacts\/(.+)$/.exec(path)!;
      const job = this.pipelines.flatMap((p) => p.jobs).find((j) => j.id === Number(jobId));
      const text = job?.files[decodeURIComponent(file!)];
      return text === undefined ? [404, { message: '404 Not found' }] : [200, text, { 'content-type': 'application/octet-stream' }];
    });
    return this;
  }

  /** The calls made with `method` to paths matching `path`. */
  made(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }
}

/**
 * For tests that mock GitLab call by call: every `members/all/:user_id` lookup answers with
 * the access level `levels` gives the user id, else 404 (not a member). Default: everyone is
 * a Developer.
 */
export function gitlabMembers(levels: (userId: number) => number | null = () => 30): nock.Scope {
  return nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } })
    .persist()
    .get(/\/api\/v4\/projects\/\d+\/members\/all\/\d+$/)
    .reply((uri) => {
      const id = Number(uri.split('/').pop());
      const level = levels(id);
      return level === null
        ? [404, { message: '404 Not found' }]
        : [200, { id, username: `user${id}`, name: `User ${id}`, state: 'active', access_level: level, expires_at: null }];
    });
}

/**
 * For tests that mock GitLab call by call: `GET /projects/:id/issues/:iid` answers with the
 * issue of the last Issue Hook passed through `from` (GitLab's state when it sent the hook),
 * 404 before any. `postGitLab(url, 'Issue Hook', issues.from(hook))`.
 */
export function gitlabIssueState() {
  let issue: Record<string, unknown> | null = null;
  nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } })
    .persist()
    .get(/\/api\/v4\/projects\/\d+\/issues\/\d+$/)
    .reply(() => (issue ? [200, issue] : [404, { message: '404 Not found' }]));
  return {
    from<H extends object>(hook: H): H {
      const h = hook as { object_attributes: { iid: number; state?: string; title: string; description?: string | null }; labels?: { title: string }[] };
      const a = h.object_attributes;
      issue = { id: 10_000 + a.iid, iid: a.iid, project_id: 1, state: a.state === 'closed' ? 'closed' : 'opened', title: a.title, description: a.description ?? '', labels: (h.labels ?? []).map((l) => l.title) };
      return hook;
    },
  };
}
