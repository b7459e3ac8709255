import nock from 'nock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ForgeApiError } from '../../../src/forges/errors.js';
import type { RepoLocator, ThreadRef } from '../../../src/forges/forge.js';
import { GitLabForge } from '../../../src/forges/gitlab/client.js';
import { strictForgeMocks } from '../../helpers/network.js';

const HOST = 'https://gitlab.example.com';
const TOKEN = 'glpat-Xq3vTz9kLm2Np8Rs4Wy6';
const repo: RepoLocator = { id: 30, fullName: 'root/test-deployment-webhooks' };
const issue: ThreadRef = { repo, number: 23, on: 'issue' };
const mr: ThreadRef = { repo, number: 1, on: 'merge_request' };
const MARKER = '<!-- doom-rlvr:task:7 -->';

const botAuthor = {
  id: 53,
  username: 'project_30_bot_8c4a9f2e1b',
  name: 'doom-rlvr',
  state: 'active',
  avatar_url: 'https://secure.gravatar.com/avatar/x?s=80&d=identicon',
  web_url: `${HOST}/project_30_bot_8c4a9f2e1b`,
};

function noteBody(id: number, body: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    type: null,
    body,
    attachment: null,
    author: botAuthor,
    created_at: '2025-03-01T10:00:00.000Z',
    updated_at: '2025-03-01T10:00:00.000Z',
    system: false,
    noteable_id: 301,
    noteable_type: 'Issue',
    project_id: 30,
    resolvable: false,
    confidential: false,
    internal: false,
    noteable_iid: 23,
    ...extra,
  };
}

function mrBody(overrides: Record<string, unknown> = {}) {
  return {
    id: 99,
    iid: 1,
    project_id: 30,
    title: 'doom: Add a health check (#23)',
    description: 'Closes #23',
    state: 'opened',
    created_at: '2025-03-01T10:00:00.000Z',
    updated_at: '2025-03-01T10:00:00.000Z',
    merged_at: null,
    target_branch: 'master',
    source_branch: 'doom/23-health-check',
    author: botAuthor,
    labels: ['doom'],
    draft: false,
    sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    merge_status: 'can_be_merged',
    detailed_merge_status: 'mergeable',
    web_url: `${HOST}/root/test-deployment-webhooks/-/merge_requests/1`,
    ...overrides,
  };
}

let sleeps: number[];
let forge: GitLabForge;
let gitlab: nock.Scope;

beforeEach(() => {
  sleeps = [];
  forge = new GitLabForge({ url: HOST, token: TOKEN, retry: { sleep: async (ms) => void sleeps.push(ms) } });
  // Every request must carry the token in the header, and only there.
  gitlab = nock(HOST, { reqheaders: { 'private-token': TOKEN } });
});

strictForgeMocks();

const notesQuery = { sort: 'asc', order_by: 'created_at', per_page: 100 };

describe('GitLabForge.upsertComment', () => {
  it('creates the note once, then finds it by marker and edits it — never a second POST', async () => {
    gitlab
      .get('/api/v4/projects/30/issues/23/notes')
      .query({ ...notesQuery, page: 1 })
      .reply(200, [noteBody(5, 'changed the description', { system: true, author: { id: 1, username: 'root' } })], { 'x-next-page': '' })
      .post('/api/v4/projects/30/issues/23/notes', { body: `${MARKER}\nQueued.` })
      .reply(201, noteBody(1241, `${MARKER}\nQueued.`));
    expect(await forge.upsertComment(issue, MARKER, 'Queued.')).toBe(1241);

    gitlab
      .get('/api/v4/projects/30/issues/23/notes')
      .query({ ...notesQuery, page: 1 })
      .reply(200, [noteBody(1241, `${MARKER}\nQueued.`)], { 'x-next-page': '' })
      .put('/api/v4/projects/30/issues/23/notes/1241', { body: `${MARKER}\nRunning.` })
      .reply(200, noteBody(1241, `${MARKER}\nRunning.`));
    expect(await forge.upsertComment(issue, MARKER, 'Running.')).toBe(1241);
  });

  it('pages through notes (x-next-page) on a merge request', async () => {
    gitlab
      .get('/api/v4/projects/30/merge_requests/1/notes')
      .query({ ...notesQuery, page: 1 })
      .reply(200, [noteBody(1, 'LGTM')], { 'x-next-page': '2', 'x-page': '1' })
      .get('/api/v4/projects/30/merge_requests/1/notes')
      .query({ ...notesQuery, page: 2 })
      .reply(200, [noteBody(1244, `${MARKER}\nold`)], { 'x-next-page': '', 'x-page': '2' })
      .put('/api/v4/projects/30/merge_requests/1/notes/1244')
      .reply(200, noteBody(1244, `${MARKER}\nnew`));
    expect(await forge.upsertComment(mr, MARKER, 'new')).toBe(1244);
  });

  it('edits a known note, and searches when it was deleted', async () => {
    gitlab.put('/api/v4/projects/30/issues/23/notes/1241').reply(200, noteBody(1241, `${MARKER}\nv2`));
    expect(await forge.upsertComment(issue, MARKER, 'v2', 1241)).toBe(1241);

    gitlab
      .put('/api/v4/projects/30/issues/23/notes/1241')
      .reply(404, { message: '404 Not found' })
      .get('/api/v4/projects/30/issues/23/notes')
      .query(true)
      .reply(200, [])
      .post('/api/v4/projects/30/issues/23/notes')
      .reply(201, noteBody(1250, `${MARKER}\nv3`));
    expect(await forge.upsertComment(issue, MARKER, 'v3', 1241)).toBe(1250);
  });
});

describe('GitLabForge retries and errors', () => {
  it('retries a 502 then succeeds', async () => {
    gitlab
      .get('/api/v4/projects/30/merge_requests')
      .query(true)
      .reply(502, '<html>502 Bad Gateway</html>', { 'content-type': 'text/html' })
      .get('/api/v4/projects/30/merge_requests')
      .query(true)
      .reply(200, [mrBody()]);
    expect(await forge.findMergeRequestByBranch(repo, 'doom/23-health-check')).toMatchObject({ number: 1 });
    expect(sleeps).toHaveLength(1);
  });

  it('honours Retry-After on a 429', async () => {
    gitlab
      .put('/api/v4/projects/30/issues/23')
      .reply(429, 'Retry later', { 'retry-after': '2', 'ratelimit-remaining': '0' })
      .put('/api/v4/projects/30/issues/23', { add_labels: 'doom,tier::senior' })
      .reply(200, { iid: 23, labels: ['API', 'doom', 'tier::senior'] });
    await forge.addLabels(issue, ['doom', 'tier::senior']);
    expect(sleeps).toEqual([2000]);
  });

  it('does not resend a POST answered 500; the error names the call but not the token', async () => {
    gitlab.post('/api/v4/projects/30/merge_requests').reply(500, { message: `500 Internal Server Error (token ${TOKEN})` });
    // It may have been opened: looked for by its branch; not there, so the 500 stands.
    gitlab.get('/api/v4/projects/30/merge_requests').query(true).reply(200, []);
    const error = await forge
      .openMergeRequest(repo, { sourceBranch: 'doom/23-x', targetBranch: 'master', title: 't', body: 'b', labels: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeApiError);
    expect(error).toMatchObject({ status: 500, method: 'POST', url: `${HOST}/api/v4/projects/30/merge_requests` });
    expect((error as Error).message).toContain('[REDACTED]');
    expect((error as Error).message).not.toContain(TOKEN);
    expect(JSON.stringify(forge)).not.toContain(TOKEN);
    expect(sleeps).toEqual([]);
  });
});

describe('GitLabForge after a write that may have been applied', () => {
  it('adopts the note a 502 POST created, found by its marker: one POST, one note', async () => {
    const notes: ReturnType<typeof noteBody>[] = [];
    let posts = 0;
    gitlab
      .get('/api/v4/projects/30/issues/23/notes')
      .query({ ...notesQuery, page: 1 })
      .times(2)
      .reply(200, () => notes, { 'x-next-page': '' })
      .post('/api/v4/projects/30/issues/23/notes')
      .reply(502, (_uri, body) => {
        posts++;
        notes.push(noteBody(1300, (body as { body: string }).body));
        return '<html>502 Bad Gateway</html>';
      });
    expect(await forge.upsertComment(issue, MARKER, 'Queued.')).toBe(1300);
    expect(posts).toBe(1);
    expect(notes).toHaveLength(1);
  });

  it('adopts the MR a dropped connection opened, found by its branch', async () => {
    gitlab
      .post('/api/v4/projects/30/merge_requests')
      .replyWithError('socket hang up')
      .get('/api/v4/projects/30/merge_requests')
      .query({ source_branch: 'doom/23-x', state: 'opened', per_page: 1 })
      .reply(200, [mrBody({ source_branch: 'doom/23-x' })]);
    const opened = await forge.openMergeRequest(repo, { sourceBranch: 'doom/23-x', targetBranch: 'master', title: 't', body: 'b', labels: [] });
    expect(opened).toMatchObject({ number: 1, sourceBranch: 'doom/23-x' });
  });
});

describe('GitLabForge.permissionOf', () => {
  const levels: Array<[number, string]> = [
    [50, 'admin'],
    [40, 'maintain'],
    [30, 'write'],
    [20, 'read'],
    [10, 'read'],
    [5, 'none'],
  ];
  for (const [level, expected] of levels) {
    it(`access level ${level} → ${expected}`, async () => {
      gitlab
        .get('/api/v4/users')
        .query({ username: 'jdoe' })
        .reply(200, [{ id: 7, username: 'jdoe', name: 'Jane Doe', state: 'active', locked: false, web_url: `${HOST}/jdoe` }])
        .get('/api/v4/projects/30/members/all/7')
        .reply(200, { id: 7, username: 'jdoe', name: 'Jane Doe', state: 'active', access_level: level, expires_at: null });
      expect(await forge.permissionOf(repo, { login: 'jdoe' })).toBe(expected);
    });
  }

  it('an unknown user or a non-member has none', async () => {
    gitlab.get('/api/v4/users').query({ username: 'ghost1' }).reply(200, []);
    expect(await forge.permissionOf(repo, { login: 'ghost1' })).toBe('none');
    gitlab
      .get('/api/v4/users')
      .query({ username: 'outsider' })
      .reply(200, [{ id: 8, username: 'outsider' }])
      .get('/api/v4/projects/30/members/all/8')
      .reply(404, { message: '404 Not found' });
    expect(await forge.permissionOf(repo, { login: 'outsider' })).toBe('none');
  });

  it('with the user id from the webhook, asks for the member directly', async () => {
    gitlab
      .get('/api/v4/projects/30/members/all/51')
      .reply(200, { id: 51, username: 'reporter1', name: 'Rita Reporter', state: 'active', access_level: 20, expires_at: null });
    expect(await forge.permissionOf(repo, { login: 'reporter1', id: 51 })).toBe('read');
    expect(gitlab.pendingMocks()).toEqual([]);
  });
});

describe('GitLabForge merge requests', () => {
  it('finds the open MR by source branch, or null', async () => {
    gitlab
      .get('/api/v4/projects/30/merge_requests')
      .query({ source_branch: 'doom/23-health-check', state: 'opened', per_page: 1 })
      .reply(200, [mrBody()]);
    expect(await forge.findMergeRequestByBranch(repo, 'doom/23-health-check')).toEqual({
      number: 1,
      url: `${HOST}/root/test-deployment-webhooks/-/merge_requests/1`,
      title: 'doom: Add a health check (#23)',
      body: 'Closes #23',
      sourceBranch: 'doom/23-health-check',
      targetBranch: 'master',
      state: 'open',
    });
    gitlab.get('/api/v4/projects/30/merge_requests').query(true).reply(200, []);
    expect(await forge.findMergeRequestByBranch(repo, 'nothing')).toBeNull();
  });

  it('opens an MR with its labels in one call', async () => {
    gitlab
      .post('/api/v4/projects/30/merge_requests', {
        source_branch: 'doom/23-health-check',
        target_branch: 'master',
        title: 'doom: Add a health check (#23)',
        description: 'Closes #23',
        labels: 'doom,agent:claude',
      })
      .reply(201, mrBody({ labels: ['doom', 'agent:claude'] }));
    expect(
      await forge.openMergeRequest(repo, {
        sourceBranch: 'doom/23-health-check',
        targetBranch: 'master',
        title: 'doom: Add a health check (#23)',
        body: 'Closes #23',
        labels: ['doom', 'agent:claude'],
      }),
    ).toMatchObject({ number: 1, state: 'open' });
  });

  it('adopts the open MR on 409 and labels it', async () => {
    gitlab
      .post('/api/v4/projects/30/merge_requests')
      .reply(409, { message: ['Another open merge request already exists for this source branch: !1'] })
      .get('/api/v4/projects/30/merge_requests')
      .query({ source_branch: 'doom/23-health-check', state: 'opened', per_page: 1 })
      .reply(200, [mrBody()])
      .put('/api/v4/projects/30/merge_requests/1', { add_labels: 'doom' })
      .reply(200, mrBody());
    const opened = await forge.openMergeRequest(repo, {
      sourceBranch: 'doom/23-health-check',
      targetBranch: 'master',
      title: 't',
      body: 'b',
      labels: ['doom'],
    });
    expect(opened.number).toBe(1);
  });

  it('updates title and description; merged state reads as merged', async () => {
    gitlab
      .put('/api/v4/projects/30/merge_requests/1', { title: 'New title', description: 'New body' })
      .reply(200, mrBody({ title: 'New title', description: 'New body', state: 'merged' }));
    expect(await forge.updateMergeRequest(repo, 1, { title: 'New title', body: 'New body' })).toMatchObject({
      title: 'New title',
      body: 'New body',
      state: 'merged',
    });
  });

  it('reports an unexpected response shape as ForgeApiError', async () => {
    gitlab.get('/api/v4/projects/30/merge_requests').query(true).reply(200, { not: 'a list' });
    await expect(forge.findMergeRequestByBranch(repo, 'x')).rejects.toThrow(/unexpected response/);
  });
});

describe('GitLabForge.headPipelines', () => {
  const sha = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';
  const pipeline = (id: number, ref: string, status: string, at = sha) => ({
    id,
    iid: id,
    project_id: 30,
    sha: at,
    ref,
    status,
    source: ref.startsWith('refs/') ? 'merge_request_event' : 'push',
    created_at: '2025-03-01T10:00:00.000Z',
    updated_at: '2025-03-01T10:05:00.000Z',
    web_url: `${HOST}/root/test-deployment-webhooks/-/pipelines/${id}`,
  });
  it('lists the merge request\'s finished pipelines of the head commit; running ones and older commits are left out', async () => {
    gitlab
      .get('/api/v4/projects/30/merge_requests/1/pipelines')
      .query(true)
      .reply(200, [
        pipeline(9, 'refs/merge-requests/1/head', 'running'),
        pipeline(8, 'refs/merge-requests/1/head', 'success'),
        pipeline(7, 'doom/23-health-check', 'failed'),
        pipeline(6, 'refs/merge-requests/1/head', 'success', 'b'.repeat(40)),
      ]);
    expect(await forge.headPipelines(repo, { number: 1, headSha: sha })).toEqual([
      { status: 'success', origin: { kind: 'gitlab_pipeline', source: 'merge_request_event' }, pipelineId: 8, sha, ref: 'refs/merge-requests/1/head', mergeRequestNumbers: [1], url: `${HOST}/root/test-deployment-webhooks/-/pipelines/8`, coverage: null },
      { status: 'failed', origin: { kind: 'gitlab_pipeline', source: 'push' }, pipelineId: 7, sha, ref: 'doom/23-health-check', mergeRequestNumbers: [], url: `${HOST}/root/test-deployment-webhooks/-/pipelines/7`, coverage: null },
    ]);
  });
});

describe('GitLabForge.gitCredential', () => {
  it('is oauth2 + the bot token', async () => {
    expect(await forge.gitCredential(repo)).toEqual({ username: 'oauth2', password: TOKEN });
  });

  it('works under a relative URL root', async () => {
    const sub = new GitLabForge({ url: 'https://example.com/gitlab/', token: TOKEN });
    nock('https://example.com').get('/gitlab/api/v4/projects/30/merge_requests').query(true).reply(200, []);
    expect(await sub.findMergeRequestByBranch(repo, 'b')).toBeNull();
    expect(sub.host).toBe('example.com');
  });
});
