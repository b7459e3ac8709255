import nock from 'nock';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { ForgeApiError, RateLimitedError } from '../../../src/forges/errors.js';
import { createProbot } from '../../../src/forges/github/app.js';
import { GitHubForge } from '../../../src/forges/github/client.js';
import type { RepoLocator, ThreadRef } from '../../../src/forges/forge.js';
import { strictForgeMocks } from '../../helpers/network.js';
import { testPrivateKey } from '../../helpers/app.js';
import { githubExample } from '../../helpers/fixtures.js';
import { account, API, botUser, pullBody } from './payloads.js';

const INSTALLATION = 4242;
const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a';
const repo: RepoLocator = { id: 186853002, fullName: 'Codertocat/Hello-World' };
const issue: ThreadRef = { repo, number: 1, on: 'issue' };
const MARKER = '<!-- doom-rlvr:task:7 -->';

const human = account('Codertocat', 21031067);

function commentBody(id: number, body: string, user = botUser) {
  return {
    url: `${API}/repos/Codertocat/Hello-World/issues/comments/${id}`,
    html_url: `https://github.com/Codertocat/Hello-World/issues/1#issuecomment-${id}`,
    issue_url: `${API}/repos/Codertocat/Hello-World/issues/1`,
    id,
    node_id: 'IC_kwDOCyN4as6ZtY1w',
    user,
    created_at: '2025-03-01T10:00:00Z',
    updated_at: '2025-03-01T10:00:00Z',
    author_association: 'NONE',
    body,
    performed_via_github_app: null,
  };
}


let sleeps: number[];
let forge: GitHubForge;
let github: nock.Scope;

/** A real Probot; its installation Octokit fetches a token once, then calls the API. */
beforeEach(async () => {
  sleeps = [];
  const probot = createProbot({
    appId: '1234',
    privateKey: testPrivateKey(),
    secret: 'secret',
    log: pino({ level: 'silent' }),
    retry: { sleep: async (ms) => void sleeps.push(ms) },
  });
  github = nock(API)
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .reply(201, {
      token: TOKEN,
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      permissions: { issues: 'write', pull_requests: 'write', contents: 'write' },
      repository_selection: 'selected',
    });
  forge = new GitHubForge(await probot.auth(INSTALLATION));
});

strictForgeMocks();

describe('GitHubForge.upsertComment', () => {
  it('creates the comment once, then finds it by marker and edits it — never a second POST', async () => {
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query({ per_page: 100 })
      .reply(200, [commentBody(11, 'I would like this too', human)])
      .post('/repos/Codertocat/Hello-World/issues/1/comments', { body: `${MARKER}\nQueued for an agent.` })
      .reply(201, commentBody(1001, `${MARKER}\nQueued for an agent.`));
    expect(await forge.upsertComment(issue, MARKER, 'Queued for an agent.')).toBe(1001);

    // The caller lost the id (crash before saving it): the marker finds the comment.
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query({ per_page: 100 })
      .reply(200, [commentBody(11, 'I would like this too', human), commentBody(1001, `${MARKER}\nQueued for an agent.`)])
      .patch('/repos/Codertocat/Hello-World/issues/comments/1001', { body: `${MARKER}\nAgent running.` })
      .reply(200, commentBody(1001, `${MARKER}\nAgent running.`));
    expect(await forge.upsertComment(issue, MARKER, 'Agent running.', null)).toBe(1001);
  });

  it('follows pagination to find the marked comment', async () => {
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query({ per_page: 100 })
      .reply(200, [commentBody(11, 'first page', human)], {
        link: `<${API}/repositories/186853002/issues/1/comments?per_page=100&page=2>; rel="next", <${API}/repositories/186853002/issues/1/comments?per_page=100&page=2>; rel="last"`,
      })
      .get('/repositories/186853002/issues/1/comments')
      .query({ per_page: 100, page: 2 })
      .reply(200, [commentBody(2002, `${MARKER}\nold`)])
      .patch('/repos/Codertocat/Hello-World/issues/comments/2002', { body: `${MARKER}\nnew` })
      .reply(200, commentBody(2002, `${MARKER}\nnew`));
    expect(await forge.upsertComment(issue, MARKER, `${MARKER}\nnew`)).toBe(2002);
  });

  it('does not edit a comment that already says the same', async () => {
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query({ per_page: 100 })
      .reply(200, [commentBody(1001, `${MARKER}\nsame`)]);
    expect(await forge.upsertComment(issue, MARKER, 'same')).toBe(1001);
  });

  it('edits a known id directly, and searches again when that comment was deleted', async () => {
    github
      .patch('/repos/Codertocat/Hello-World/issues/comments/1001')
      .reply(200, commentBody(1001, `${MARKER}\nv2`));
    expect(await forge.upsertComment(issue, MARKER, 'v2', 1001)).toBe(1001);

    github
      .patch('/repos/Codertocat/Hello-World/issues/comments/1001')
      .reply(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment', status: '404' })
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query({ per_page: 100 })
      .reply(200, [])
      .post('/repos/Codertocat/Hello-World/issues/1/comments')
      .reply(201, commentBody(1002, `${MARKER}\nv3`));
    expect(await forge.upsertComment(issue, MARKER, 'v3', 1001)).toBe(1002);
  });
});

describe('GitHubForge retries (through retryingFetch)', () => {
  it('retries a 502 and succeeds', async () => {
    github
      .get('/repos/Codertocat/Hello-World/pulls')
      .query(true)
      .reply(502, 'Bad Gateway')
      .get('/repos/Codertocat/Hello-World/pulls')
      .query(true)
      .reply(200, [pullBody()]);
    expect(await forge.findMergeRequestByBranch(repo, 'doom/7-health-check')).toMatchObject({ number: 12 });
    expect(sleeps).toHaveLength(1);
  });

  it('honours Retry-After on a 429', async () => {
    github
      .post('/repos/Codertocat/Hello-World/issues/1/labels')
      .reply(429, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '3' })
      .post('/repos/Codertocat/Hello-World/issues/1/labels', { labels: ['doom'] })
      .reply(200, [{ id: 208045946, name: 'doom', color: 'f29513', default: false }]);
    await forge.addLabels(issue, ['doom']);
    expect(sleeps).toEqual([3000]);
  });

  it('does not resend a POST answered 500, and reports it without the token', async () => {
    github.post('/repos/Codertocat/Hello-World/issues/1/comments').reply(500, { message: 'Server Error' });
    // Looked for before the POST, and again after it failed: still not there.
    github.get('/repos/Codertocat/Hello-World/issues/1/comments').query(true).times(2).reply(200, []);
    const error = await forge.upsertComment(issue, MARKER, 'hello').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeApiError);
    expect(error).toMatchObject({ status: 500, method: 'POST', url: `${API}/repos/Codertocat/Hello-World/issues/1/comments` });
    expect(String((error as Error).message)).not.toContain(TOKEN);
    expect(sleeps).toEqual([]);
  });
});

describe('GitHubForge after a write that may have been applied', () => {
  it('adopts the comment a 502 POST created, found by its marker: one POST, one comment', async () => {
    const comments: ReturnType<typeof commentBody>[] = [];
    let posts = 0;
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query(true)
      .times(2)
      .reply(200, () => comments)
      .post('/repos/Codertocat/Hello-World/issues/1/comments')
      .reply(502, (_uri, body) => {
        posts++;
        comments.push(commentBody(1077, (body as { body: string }).body)); // GitHub did it, the proxy lost the answer
        return 'Bad Gateway';
      });
    expect(await forge.upsertComment(issue, MARKER, 'hello')).toBe(1077);
    expect(posts).toBe(1);
    expect(comments).toHaveLength(1);
  });

  it('does not look again after a 422 on a comment: nothing was created', async () => {
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query(true)
      .reply(200, [])
      .post('/repos/Codertocat/Hello-World/issues/1/comments')
      .reply(422, { message: 'Validation Failed' });
    await expect(forge.upsertComment(issue, MARKER, 'hello')).rejects.toMatchObject({ status: 422 });
  });

  it('adopts the pull request a 504 POST opened, found by its branch, and labels it', async () => {
    github
      .post('/repos/Codertocat/Hello-World/pulls')
      .reply(504, 'Gateway Timeout')
      .get('/repos/Codertocat/Hello-World/pulls')
      .query({ head: 'Codertocat:doom/7-health-check', state: 'open', per_page: 1 })
      .reply(200, [pullBody()])
      .post('/repos/Codertocat/Hello-World/issues/12/labels', { labels: ['doom:bot-authored'] })
      .reply(200, []);
    const opened = await forge.openMergeRequest(repo, {
      sourceBranch: 'doom/7-health-check',
      targetBranch: 'master',
      title: 't',
      body: 'b',
      labels: ['doom:bot-authored'],
    });
    expect(opened).toMatchObject({ number: 12 });
  });

  it('surfaces a rate limit the wait of which is too long to sleep, as RateLimitedError', async () => {
    github
      .get('/repos/Codertocat/Hello-World/issues/1/comments')
      .query(true)
      .reply(403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' });
    const error = await forge.upsertComment(issue, MARKER, 'hello').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ status: 403, retryAfterMs: 60_000 });
  });
});

describe('GitHubForge.permissionOf', () => {
  const cases: Array<[string, string, string]> = [
    ['admin', 'admin', 'admin'],
    ['write', 'maintain', 'maintain'], // the legacy field folds maintain into write: role_name decides
    ['write', 'write', 'write'],
    ['read', 'triage', 'read'],
    ['read', 'read', 'read'],
    ['write', 'security-engineer', 'write'], // a custom role: the folded permission decides
    ['none', 'none', 'none'],
  ];
  for (const [permission, role, expected] of cases) {
    it(`${role} → ${expected}`, async () => {
      github.get('/repos/Codertocat/Hello-World/collaborators/octocat/permission').reply(200, {
        permission,
        role_name: role,
        user: { ...human, login: 'octocat', permissions: {} },
      });
      expect(await forge.permissionOf(repo, { login: 'octocat' })).toBe(expected);
    });
  }

  it('a non-collaborator (404) has none', async () => {
    github.get('/repos/Codertocat/Hello-World/collaborators/stranger/permission').reply(404, { message: 'Not Found' });
    expect(await forge.permissionOf(repo, { login: 'stranger' })).toBe('none');
  });
});

describe('GitHubForge merge requests', () => {
  it('finds the open pull request by head branch, or null', async () => {
    github
      .get('/repos/Codertocat/Hello-World/pulls')
      .query({ head: 'Codertocat:doom/7-health-check', state: 'open', per_page: 1 })
      .reply(200, [pullBody()]);
    expect(await forge.findMergeRequestByBranch(repo, 'doom/7-health-check')).toEqual({
      number: 12,
      url: 'https://github.com/Codertocat/Hello-World/pull/12',
      title: 'doom: Add a health check (#7)',
      body: 'Closes #7',
      sourceBranch: 'doom/7-health-check',
      targetBranch: 'master',
      state: 'open',
    });
    github.get('/repos/Codertocat/Hello-World/pulls').query(true).reply(200, []);
    expect(await forge.findMergeRequestByBranch(repo, 'doom/8-other')).toBeNull();
  });

  it('opens a pull request, then labels it through the issues API', async () => {
    github
      .post('/repos/Codertocat/Hello-World/pulls', {
        head: 'doom/7-health-check',
        base: 'master',
        title: 'doom: Add a health check (#7)',
        body: 'Closes #7',
      })
      .reply(201, pullBody())
      .post('/repos/Codertocat/Hello-World/issues/12/labels', { labels: ['doom', 'agent:claude'] })
      .reply(200, [{ name: 'doom' }, { name: 'agent:claude' }]);
    const opened = await forge.openMergeRequest(repo, {
      sourceBranch: 'doom/7-health-check',
      targetBranch: 'master',
      title: 'doom: Add a health check (#7)',
      body: 'Closes #7',
      labels: ['doom', 'agent:claude'],
    });
    expect(opened).toMatchObject({ number: 12, state: 'open', sourceBranch: 'doom/7-health-check' });
  });

  it('adopts the existing pull request when GitHub says one already exists (422)', async () => {
    github
      .post('/repos/Codertocat/Hello-World/pulls')
      .reply(422, {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for Codertocat:doom/7-health-check.' }],
      })
      .get('/repos/Codertocat/Hello-World/pulls')
      .query({ head: 'Codertocat:doom/7-health-check', state: 'open', per_page: 1 })
      .reply(200, [pullBody()]);
    const opened = await forge.openMergeRequest(repo, {
      sourceBranch: 'doom/7-health-check',
      targetBranch: 'master',
      title: 't',
      body: 'b',
      labels: [],
    });
    expect(opened.number).toBe(12);
  });

  it('updates title and body; a merged pull request reads as merged', async () => {
    github
      .patch('/repos/Codertocat/Hello-World/pulls/12', { body: 'Closes #7\n\nCost: $0.42' })
      .reply(200, pullBody({ body: 'Closes #7\n\nCost: $0.42', state: 'closed', merged_at: '2025-03-02T09:00:00Z' }));
    expect(await forge.updateMergeRequest(repo, 12, { body: 'Closes #7\n\nCost: $0.42' })).toMatchObject({
      body: 'Closes #7\n\nCost: $0.42',
      state: 'merged',
    });
  });
});

describe('GitHubForge.headPipelines', () => {
  const sha = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821';
  it('lists the head commit\'s workflow runs, other Apps\' check suites and commit statuses as their webhooks would', async () => {
    // The REST items have the webhook objects' shape: take them from GitHub's own examples.
    const run = githubExample('workflow_run', (e) => e.action === 'completed' && e.workflow_run.conclusion === 'success').workflow_run;
    const actionsSuite = githubExample('check_suite', (e) => e.action === 'completed').check_suite;
    const codecov = { ...structuredClone(actionsSuite), id: 88, conclusion: 'failure', app: { ...actionsSuite.app, id: 254, slug: 'codecov' } };
    const running = { ...structuredClone(codecov), id: 89, conclusion: null, app: { ...codecov.app, id: 255, slug: 'circleci-checks' } };
    github
      .get('/repos/Codertocat/Hello-World/actions/runs')
      .query({ head_sha: sha, status: 'completed', per_page: 100 })
      .reply(200, { total_count: 1, workflow_runs: [{ ...run, head_sha: sha }] })
      .get(`/repos/Codertocat/Hello-World/commits/${sha}/check-suites`)
      .query({ per_page: 100 })
      .reply(200, { total_count: 3, check_suites: [{ ...actionsSuite, app: { ...actionsSuite.app, slug: 'github-actions' } }, codecov, running] })
      .get(`/repos/Codertocat/Hello-World/commits/${sha}/statuses`)
      .query({ per_page: 100 })
      .reply(200, [
        { id: 3, state: 'pending', context: 'ci/jenkins', target_url: null },
        { id: 2, state: 'error', context: 'ci/circleci', target_url: 'https://circleci.com/gh/x/1' },
      ]);
    const runs = await forge.headPipelines(repo, { number: 2, headSha: sha });
    expect(runs).toEqual([
      { status: 'success', origin: { kind: 'workflow_run' }, pipelineId: run.id, sha, ref: run.head_branch, mergeRequestNumbers: run.pull_requests.map((p: { number: number }) => p.number), url: run.html_url, coverage: null },
      expect.objectContaining({ status: 'failed', origin: { kind: 'check_suite', app: 'codecov' }, pipelineId: 88 }),
      { status: 'failed', origin: { kind: 'commit_status', context: 'ci/circleci' }, pipelineId: 2, sha, ref: '', mergeRequestNumbers: [], url: 'https://circleci.com/gh/x/1', coverage: null },
    ]);
  });
});

describe('GitHubForge.gitCredential', () => {
  it('is the installation token with the x-access-token user', async () => {
    expect(await forge.gitCredential(repo)).toEqual({ username: 'x-access-token', password: TOKEN });
  });
});
