/**
 * The GitHub side of evaluation: merge request state, reviews, reactions, reports out of
 * workflow-run artifacts, and the latest successful run. nock answers at the HTTP boundary
 * with bodies shaped like GitHub's REST responses.
 */
import nock from 'nock';
import { pino } from 'pino';
import type { ProbotOctokit } from 'probot';
import { beforeEach, describe, expect, it } from 'vitest';
import { ForgeApiError } from '../../../src/forges/errors.js';
import type { RepoLocator } from '../../../src/forges/forge.js';
import { createProbot } from '../../../src/forges/github/app.js';
import { GitHubForge } from '../../../src/forges/github/client.js';
import { ZipError } from '../../../src/forges/github/zip.js';
import { buildZip } from './zip-writer.js';
import { strictForgeMocks } from '../../helpers/network.js';
import { testPrivateKey } from '../../helpers/app.js';
import { account, API, pullBody, REPO_PATH } from './payloads.js';

const BLOB = 'https://productionresultssa4.blob.core.windows.net';
const INSTALLATION = 4242;
const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a';
const repo: RepoLocator = { id: 186853002, fullName: 'Codertocat/Hello-World' };
const RUN = 13867513069;
const LCOV = 'TN:\nSF:src/health.ts\nDA:1,1\nDA:2,1\nLF:2\nLH:2\nend_of_record\n';


const alice = account('alice', 1001);
const bob = account('bob', 1002);
const carol = account('carol', 1003);
const dave = account('dave', 1004);
const erin = account('erin', 1005);
const frank = account('frank', 1006);
const copilot = account('copilot-pull-request-reviewer[bot]', 175728472, 'Bot');


let reviewId = 80;
function reviewBody(user: ReturnType<typeof account> | null, state: string, submittedAt: string | null) {
  const id = reviewId++;
  return {
    id,
    node_id: `PRR_kwDOCyN4as6${id}`,
    user,
    body: state === 'COMMENTED' ? 'A nit or two.' : '',
    state,
    html_url: `https://github.com/Codertocat/Hello-World/pull/12#pullrequestreview-${id}`,
    pull_request_url: `${API}${REPO_PATH}/pulls/12`,
    author_association: 'COLLABORATOR',
    _links: {
      html: { href: `https://github.com/Codertocat/Hello-World/pull/12#pullrequestreview-${id}` },
      pull_request: { href: `${API}${REPO_PATH}/pulls/12` },
    },
    ...(submittedAt ? { submitted_at: submittedAt } : {}),
    commit_id: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
  };
}

function reactionBody(id: number, user: ReturnType<typeof account> | null, content: string) {
  return { id, node_id: `REA_lATOCyN4as${id}`, user, content, created_at: '2025-03-02T08:00:00Z' };
}

function artifactBody(id: number, name: string, overrides: Record<string, unknown> = {}) {
  return {
    id,
    node_id: `MDg6QXJ0aWZhY3Q${id}`,
    name,
    size_in_bytes: 556,
    url: `${API}${REPO_PATH}/actions/artifacts/${id}`,
    archive_download_url: `${API}${REPO_PATH}/actions/artifacts/${id}/zip`,
    expired: false,
    digest: 'sha256:cfc3236bdad15b5898bca8408945c9e19e1917da8704adc20eaa618444290a8c',
    created_at: '2025-03-01T10:05:00Z',
    updated_at: '2025-03-01T10:05:00Z',
    expires_at: '2025-05-30T10:05:00Z',
    workflow_run: {
      id: RUN,
      repository_id: 186853002,
      head_repository_id: 186853002,
      head_branch: 'doom/7-health-check',
      head_sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
    },
    ...overrides,
  };
}

function artifactList(artifacts: unknown[], total = artifacts.length) {
  return { total_count: total, artifacts };
}

/** GitHub's answer to the zip download: a 302 to a signed, short-lived storage URL. */
function redirectToBlob(artifactId: number) {
  const path = `/actions-results/6d1f0ad5/workflow-job-run-${artifactId}/artifacts/${artifactId}.zip`;
  return {
    path,
    location: `${BLOB}${path}?rscd=attachment%3B+filename%3D%22coverage.zip%22&se=2025-03-02T08%3A10%3A00Z&sig=c2lnbmF0dXJlLW5vdC1mb3ItbG9ncw%3D%3D&sp=r&spr=https&sr=b&st=2025-03-02T07%3A59%3A00Z&sv=2025-05-05`,
  };
}

let octokit: InstanceType<typeof ProbotOctokit>;
let forge: GitHubForge;
let github: nock.Scope;
let blob: nock.Scope;

beforeEach(async () => {
  const probot = createProbot({
    appId: '1234',
    privateKey: testPrivateKey(),
    secret: 'secret',
    log: pino({ level: 'silent' }),
    retry: { sleep: async () => undefined },
  });
  github = nock(API)
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .reply(201, {
      token: TOKEN,
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      permissions: { actions: 'read', issues: 'write', pull_requests: 'write', contents: 'write' },
      repository_selection: 'selected',
    });
  // The storage host must never see the installation token.
  blob = nock(BLOB, { badheaders: ['authorization'] });
  octokit = await probot.auth(INSTALLATION);
  forge = new GitHubForge(octokit);
});

strictForgeMocks();

describe('GitHubForge.getMergeRequest', () => {
  it('reads an open pull request with its head sha and bot author', async () => {
    github.get(`${REPO_PATH}/pulls/12`).reply(200, pullBody());
    expect(await forge.getMergeRequest(repo, 12)).toEqual({
      number: 12,
      url: 'https://github.com/Codertocat/Hello-World/pull/12',
      title: 'doom: Add a health check (#7)',
      body: 'Closes #7',
      sourceBranch: 'doom/7-health-check',
      targetBranch: 'master',
      state: 'open',
      headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      author: { id: 149578925, login: 'doom-rlvr[bot]', isBot: true },
    });
  });

  it('tells merged from closed by merged_at', async () => {
    github
      .get(`${REPO_PATH}/pulls/12`)
      .reply(200, pullBody({ state: 'closed', closed_at: '2025-03-02T09:00:00Z', merged_at: '2025-03-02T09:00:00Z', merged: true }))
      .get(`${REPO_PATH}/pulls/12`)
      .reply(200, pullBody({ state: 'closed', closed_at: '2025-03-02T09:00:00Z', user: alice, body: null }));
    expect(await forge.getMergeRequest(repo, 12)).toMatchObject({ state: 'merged' });
    expect(await forge.getMergeRequest(repo, 12)).toMatchObject({
      state: 'closed',
      body: '',
      author: { id: 1001, login: 'alice', isBot: false },
    });
  });

  it('a missing pull request is a ForgeApiError 404', async () => {
    github.get(`${REPO_PATH}/pulls/99`).reply(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request', status: '404' });
    await expect(forge.getMergeRequest(repo, 99)).rejects.toMatchObject({ name: 'ForgeApiError', status: 404 });
  });
});

describe('GitHubForge.reviews', () => {
  it('keeps each reviewer standing verdict across pages, the way GitHub counts them', async () => {
    const page1 = [
      reviewBody(alice, 'APPROVED', '2025-03-01T11:00:00Z'),
      reviewBody(bob, 'COMMENTED', '2025-03-01T11:05:00Z'),
      reviewBody(carol, 'CHANGES_REQUESTED', '2025-03-01T11:10:00Z'),
      reviewBody(dave, 'DISMISSED', '2025-03-01T11:15:00Z'), // an approval, dismissed
      reviewBody(erin, 'DISMISSED', '2025-03-01T11:20:00Z'),
      reviewBody(copilot, 'COMMENTED', '2025-03-01T11:21:00Z'),
    ];
    const page2 = [
      reviewBody(alice, 'COMMENTED', '2025-03-01T12:00:00Z'), // does not withdraw the approval
      reviewBody(bob, 'CHANGES_REQUESTED', '2025-03-01T12:05:00Z'),
      reviewBody(carol, 'APPROVED', '2025-03-01T12:10:00Z'), // changed their mind
      reviewBody(erin, 'COMMENTED', '2025-03-01T12:20:00Z'), // after the dismissal: a comment
      reviewBody(frank, 'PENDING', null), // a draft
      reviewBody(null, 'APPROVED', '2025-03-01T12:30:00Z'), // a deleted account
    ];
    github
      .get(`${REPO_PATH}/pulls/12/reviews`)
      .query({ per_page: 100 })
      .reply(200, page1, {
        link: `<${API}/repositories/186853002/pulls/12/reviews?per_page=100&page=2>; rel="next", <${API}/repositories/186853002/pulls/12/reviews?per_page=100&page=2>; rel="last"`,
      })
      .get('/repositories/186853002/pulls/12/reviews')
      .query({ per_page: 100, page: 2 })
      .reply(200, page2);

    const verdicts = await forge.reviews(repo, 12);
    const byLogin = Object.fromEntries(verdicts.map((v) => [v.user.login, v]));
    expect(Object.keys(byLogin).sort()).toEqual(['alice', 'bob', 'carol', 'copilot-pull-request-reviewer[bot]', 'erin']);
    expect(byLogin.alice).toEqual({ user: { id: 1001, login: 'alice', isBot: false }, state: 'approved', at: '2025-03-01T11:00:00Z' });
    expect(byLogin.bob).toMatchObject({ state: 'changes_requested', at: '2025-03-01T12:05:00Z' });
    expect(byLogin.carol).toMatchObject({ state: 'approved', at: '2025-03-01T12:10:00Z' });
    expect(byLogin.erin).toMatchObject({ state: 'commented', at: '2025-03-01T12:20:00Z' });
    expect(byLogin['copilot-pull-request-reviewer[bot]']).toMatchObject({
      state: 'commented',
      user: { id: 175728472, isBot: true },
    });
  });

  it('a change request after an approval replaces it; no reviews, no verdicts', async () => {
    github
      .get(`${REPO_PATH}/pulls/12/reviews`)
      .query({ per_page: 100 })
      .reply(200, [reviewBody(alice, 'APPROVED', '2025-03-01T11:00:00Z'), reviewBody(alice, 'CHANGES_REQUESTED', '2025-03-01T13:00:00Z')])
      .get(`${REPO_PATH}/pulls/13/reviews`)
      .query({ per_page: 100 })
      .reply(200, []);
    expect(await forge.reviews(repo, 12)).toEqual([
      { user: { id: 1001, login: 'alice', isBot: false }, state: 'changes_requested', at: '2025-03-01T13:00:00Z' },
    ]);
    expect(await forge.reviews(repo, 13)).toEqual([]);
  });
});

describe('GitHubForge.reactions', () => {
  it('maps +1 and -1, everything else is other; bots flagged', async () => {
    github
      .get(`${REPO_PATH}/issues/12/reactions`)
      .query({ per_page: 100 })
      .reply(200, [
        reactionBody(1, alice, '+1'),
        reactionBody(2, bob, '-1'),
        reactionBody(3, carol, 'heart'),
        reactionBody(4, copilot, 'rocket'),
        reactionBody(5, null, '+1'),
      ]);
    expect(await forge.reactions(repo, 12)).toEqual([
      { user: { id: 1001, login: 'alice', isBot: false }, kind: 'up' },
      { user: { id: 1002, login: 'bob', isBot: false }, kind: 'down' },
      { user: { id: 1003, login: 'carol', isBot: false }, kind: 'other' },
      { user: { id: 175728472, login: 'copilot-pull-request-reviewer[bot]', isBot: true }, kind: 'other' },
    ]);
  });
});

describe('GitHubForge.report', () => {
  const locations = [
    { artifact: 'coverage-report', path: 'coverage/cobertura.xml' },
    { artifact: 'coverage', path: 'coverage/cobertura.xml' },
    { artifact: 'coverage', path: 'lcov.info' },
  ];

  it('tries the locations in order, across artifact pages, downloading each zip once', async () => {
    const zip = buildZip([
      { name: 'lcov.info', data: LCOV },
      { name: 'lcov-report/index.html', data: '<html></html>' },
    ]);
    const { path, location } = redirectToBlob(2701);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2700, 'eslint')], 2), {
        link: `<${API}/repositories/186853002/actions/runs/${RUN}/artifacts?per_page=100&page=2>; rel="next"`,
      })
      .get(`/repositories/186853002/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100, page: 2 })
      .reply(200, artifactList([artifactBody(2701, 'coverage', { size_in_bytes: zip.length })], 2))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(302, '', { location });
    blob.get(path).query(true).reply(200, zip, { 'content-type': 'application/zip', 'content-length': String(zip.length) });

    expect(await forge.report(repo, RUN, locations)).toBe(LCOV);
  });

  it('can be answered with the zip directly, without the redirect', async () => {
    const zip = buildZip([{ name: 'coverage/cobertura.xml', data: '<coverage line-rate="0.875"/>' }]);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage')]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(200, zip, { 'content-type': 'application/zip' });
    expect(await forge.report(repo, RUN, locations)).toBe('<coverage line-rate="0.875"/>');
  });

  it('takes the newest unexpired artifact of a name', async () => {
    const zip = buildZip([{ name: 'lcov.info', data: LCOV }]);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([
        artifactBody(2690, 'coverage'),
        artifactBody(2705, 'coverage', { expired: true }),
        artifactBody(2701, 'coverage'),
      ]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(200, zip, { 'content-type': 'application/zip' });
    expect(await forge.report(repo, RUN, [{ artifact: 'coverage', path: 'lcov.info' }])).toBe(LCOV);
  });

  it('is null when no location is there: no such artifact, or the file is not in the zip', async () => {
    const zip = buildZip([{ name: 'index.html', data: '<html></html>' }]);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage'), artifactBody(2702, 'old', { expired: true })]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(200, zip, { 'content-type': 'application/zip' });
    expect(await forge.report(repo, RUN, [...locations, { artifact: 'old', path: 'lcov.info' }])).toBeNull();

    github.get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`).query({ per_page: 100 }).reply(200, artifactList([]));
    expect(await forge.report(repo, RUN, locations)).toBeNull();
    expect(await forge.report(repo, RUN, [])).toBeNull();
  });

  it('an artifact gone since the listing (410) counts as absent', async () => {
    const zip = buildZip([{ name: 'lcov.info', data: LCOV }]);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage'), artifactBody(2702, 'coverage-lcov')]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(410, { message: 'Artifact has expired', documentation_url: 'https://docs.github.com/rest/actions/artifacts#download-an-artifact', status: '410' })
      .get(`${REPO_PATH}/actions/artifacts/2702/zip`)
      .reply(200, zip, { 'content-type': 'application/zip' });
    expect(
      await forge.report(repo, RUN, [
        { artifact: 'coverage', path: 'lcov.info' },
        { artifact: 'coverage-lcov', path: 'lcov.info' },
      ]),
    ).toBe(LCOV);
  });

  it('a corrupt zip is a ZipError naming the artifact and run', async () => {
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage')]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(200, Buffer.from('PK\u0003\u0004 this is not really a zip'), { 'content-type': 'application/zip' });
    const error = await forge.report(repo, RUN, locations).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZipError);
    expect((error as Error).message).toBe(
      `GitHub artifact "coverage" (2701) of run ${RUN}: not a zip archive (no end of central directory record)`,
    );
  });

  it('refuses a report over the size limit', async () => {
    const small = new GitHubForge(octokit, { maxReportBytes: 1024 });
    const zip = buildZip([{ name: 'lcov.info', data: LCOV.repeat(100) }]);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage')]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(200, zip, { 'content-type': 'application/zip' });
    const error = await small.report(repo, RUN, [{ artifact: 'coverage', path: 'lcov.info' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZipError);
    expect((error as Error).message).toBe(
      `GitHub artifact "coverage" (2701) of run ${RUN}: "lcov.info" is ${LCOV.length * 100} bytes uncompressed, over the limit of 1024 bytes`,
    );
  });

  it('refuses an artifact over the download limit, before or while downloading', async () => {
    const small = new GitHubForge(octokit, { maxArtifactBytes: 1000 });
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage', { size_in_bytes: 5_000_000 })]));
    const before = await small.report(repo, RUN, locations).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(ForgeApiError);
    expect((before as Error).message).toBe(
      `GET ${API}${REPO_PATH}/actions/artifacts/2701/zip failed with 0: artifact "coverage" is 5000000 bytes, over the limit of 1000 bytes`,
    );

    // The listing under-states the size: the download stops at the limit.
    const { path, location } = redirectToBlob(2701);
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(200, artifactList([artifactBody(2701, 'coverage', { size_in_bytes: 900 })]))
      .get(`${REPO_PATH}/actions/artifacts/2701/zip`)
      .reply(302, '', { location });
    blob.get(path).query(true).reply(200, Buffer.alloc(4000, 1), { 'content-type': 'application/zip' });
    const during = await small.report(repo, RUN, locations).catch((e: unknown) => e);
    expect(during).toBeInstanceOf(ForgeApiError);
    expect((during as Error).message).toMatch(/artifact "coverage" is more than 1000 bytes/);
    expect((during as Error).message).not.toContain('sig=');
  });

  it('a failed listing is a ForgeApiError without the token', async () => {
    github
      .get(`${REPO_PATH}/actions/runs/${RUN}/artifacts`)
      .query({ per_page: 100 })
      .reply(403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/actions/artifacts', status: '403' });
    const error = await forge.report(repo, RUN, locations).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ForgeApiError', status: 403 });
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('GitHubForge.latestSuccessfulPipeline', () => {
  it('is the newest successful push run on the branch, without coverage', async () => {
    github
      .get(`${REPO_PATH}/actions/runs`)
      .query({ branch: 'master', event: 'push', status: 'success', exclude_pull_requests: 'true', per_page: 1 })
      .reply(200, {
        total_count: 57,
        workflow_runs: [
          {
            id: 13867400001,
            name: 'CI',
            node_id: 'WFR_kwLOCyN4as8AAAADOpmrQQ',
            head_branch: 'master',
            head_sha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
            path: '.github/workflows/ci.yml',
            display_title: 'Merge pull request #11 from Codertocat/feature',
            run_number: 562,
            event: 'push',
            status: 'completed',
            conclusion: 'success',
            workflow_id: 159038,
            check_suite_id: 32733614876,
            url: `${API}${REPO_PATH}/actions/runs/13867400001`,
            html_url: 'https://github.com/Codertocat/Hello-World/actions/runs/13867400001',
            pull_requests: [],
            created_at: '2025-03-01T09:00:00Z',
            updated_at: '2025-03-01T09:04:00Z',
            run_attempt: 1,
            run_started_at: '2025-03-01T09:00:00Z',
          },
        ],
      });
    expect(await forge.latestSuccessfulPipeline(repo, 'master')).toEqual({
      id: 13867400001,
      sha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
      coverage: null,
    });
  });

  it('is null when the branch has no successful run', async () => {
    github.get(`${REPO_PATH}/actions/runs`).query(true).reply(200, { total_count: 0, workflow_runs: [] });
    expect(await forge.latestSuccessfulPipeline(repo, 'master')).toBeNull();
  });
});
