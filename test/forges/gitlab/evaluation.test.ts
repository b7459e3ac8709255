/**
 * The GitLab side of evaluation: merge request state, approvals and reviewer states, award
 * emoji, reports out of job artifacts, and the latest successful pipeline. nock answers at
 * the HTTP boundary with bodies shaped like GitLab's REST v4 responses.
 */
import { Readable } from 'node:stream';
import nock from 'nock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ForgeApiError } from '../../../src/forges/errors.js';
import type { RepoLocator } from '../../../src/forges/forge.js';
import { GitLabForge } from '../../../src/forges/gitlab/client.js';
import { strictForgeMocks } from '../../helpers/network.js';

const HOST = 'https://gitlab.example.com';
const STORAGE = 'https://gitlab-artifacts.s3.eu-west-1.amazonaws.com';
const TOKEN = 'glpat-Xq3vTz9kLm2Np8Rs4Wy6';
const repo: RepoLocator = { id: 30, fullName: 'root/test-deployment-webhooks' };
const MR = '/api/v4/projects/30/merge_requests/1';
const PIPELINE = 1642;
const LCOV = 'TN:\nSF:src/health.ts\nDA:1,1\nDA:2,1\nLF:2\nLH:2\nend_of_record\n';

function person(id: number, username: string, name = username) {
  return {
    id,
    username,
    name,
    state: 'active',
    locked: false,
    avatar_url: `https://secure.gravatar.com/avatar/${id}?s=80&d=identicon`,
    web_url: `${HOST}/${username}`,
  };
}

const bot = person(53, 'project_30_bot_8c4a9f2e1b', 'doom-rlvr');
const renovate = person(54, 'renovate-bot', 'Renovate');
const alice = person(101, 'alice', 'Alice Liddell');
const bob = person(102, 'bob');
const carol = person(103, 'carol');
const dave = person(104, 'dave');
const erin = person(105, 'erin');
const frank = person(106, 'frank');
const gina = person(107, 'gina');

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
    merged_by: null,
    merge_user: null,
    merged_at: null,
    closed_by: null,
    closed_at: null,
    target_branch: 'master',
    source_branch: 'doom/23-health-check',
    user_notes_count: 0,
    upvotes: 0,
    downvotes: 0,
    author: bot,
    assignees: [],
    assignee: null,
    reviewers: [alice],
    source_project_id: 30,
    target_project_id: 30,
    labels: ['doom'],
    draft: false,
    work_in_progress: false,
    merge_when_pipeline_succeeds: false,
    merge_status: 'can_be_merged',
    detailed_merge_status: 'mergeable',
    sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    merge_commit_sha: null,
    squash_commit_sha: null,
    web_url: `${HOST}/root/test-deployment-webhooks/-/merge_requests/1`,
    diff_refs: {
      base_sha: 'c380d3acebd181f13629a25d2e2acca46ffe1e00',
      head_sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      start_sha: 'c380d3acebd181f13629a25d2e2acca46ffe1e00',
    },
    ...overrides,
  };
}

function approvalsBody(approvedBy: Array<{ user: ReturnType<typeof person>; approved_at?: string }>) {
  return {
    id: 99,
    iid: 1,
    project_id: 30,
    title: 'doom: Add a health check (#23)',
    description: 'Closes #23',
    state: 'opened',
    created_at: '2025-03-01T10:00:00.000Z',
    updated_at: '2025-03-01T12:00:00.000Z',
    merge_status: 'can_be_merged',
    approved: approvedBy.length > 0,
    approvals_required: 1,
    approvals_left: approvedBy.length > 0 ? 0 : 1,
    require_password_to_approve: false,
    approved_by: approvedBy,
    suggested_approvers: [],
    approvers: [],
    approver_groups: [],
    user_has_approved: false,
    user_can_approve: false,
    approval_rules_left: [],
    has_approval_rules: false,
    merge_request_approvers_available: true,
    multiple_approval_rules_available: true,
    invalid_approvers_rules: [],
  };
}

function reviewerBody(user: ReturnType<typeof person>, state: string) {
  return { user, state, created_at: '2025-03-01T10:01:00.000Z' };
}

function awardBody(id: number, name: string, user: ReturnType<typeof person>) {
  return {
    id,
    name,
    user,
    created_at: '2025-03-02T08:00:00.000Z',
    updated_at: '2025-03-02T08:00:00.000Z',
    awardable_id: 99,
    awardable_type: 'MergeRequest',
    url: null,
  };
}

type ArtifactFile = { file_type: string; size: number; filename: string; file_format: string | null };
const ARCHIVE: ArtifactFile = { file_type: 'archive', size: 1000, filename: 'artifacts.zip', file_format: 'zip' };
const METADATA: ArtifactFile = { file_type: 'metadata', size: 186, filename: 'metadata.gz', file_format: 'gzip' };
const TRACE: ArtifactFile = { file_type: 'trace', size: 1500, filename: 'job.log', file_format: null };

function jobBody(id: number, name: string, artifacts: ArtifactFile[]) {
  const archive = artifacts.find((a) => a.file_type === 'archive');
  return {
    commit: { id: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', short_id: 'da156088', title: 'doom: Add a health check' },
    coverage: null,
    archived: false,
    allow_failure: false,
    created_at: '2025-03-01T10:02:00.000Z',
    started_at: '2025-03-01T10:02:10.000Z',
    finished_at: '2025-03-01T10:04:00.000Z',
    erased_at: null,
    duration: 110.2,
    queued_duration: 0.4,
    ...(archive ? { artifacts_file: { filename: archive.filename, size: archive.size } } : {}),
    artifacts,
    artifacts_expire_at: '2025-04-01T10:04:00.000Z',
    tag_list: ['docker'],
    id,
    name,
    pipeline: { id: PIPELINE, project_id: 30, ref: 'doom/23-health-check', sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', status: 'success' },
    ref: 'doom/23-health-check',
    stage: 'test',
    status: 'success',
    failure_reason: null,
    tag: false,
    web_url: `${HOST}/root/test-deployment-webhooks/-/jobs/${id}`,
    project: { ci_job_token_scope_enabled: false },
    user: alice,
  };
}

function pipelineBody(id: number, overrides: Record<string, unknown> = {}) {
  return {
    id,
    iid: id - 1600,
    project_id: 30,
    sha: 'c380d3acebd181f13629a25d2e2acca46ffe1e00',
    ref: 'master',
    status: 'success',
    source: 'push',
    created_at: '2025-03-01T09:00:00.000Z',
    updated_at: '2025-03-01T09:06:00.000Z',
    web_url: `${HOST}/root/test-deployment-webhooks/-/pipelines/${id}`,
    ...overrides,
  };
}

let sleeps: number[];
let forge: GitLabForge;
let gitlab: nock.Scope;

beforeEach(() => {
  sleeps = [];
  forge = new GitLabForge({ url: HOST, token: TOKEN, retry: { sleep: async (ms) => void sleeps.push(ms) } });
  gitlab = nock(HOST, { reqheaders: { 'private-token': TOKEN } });
});

strictForgeMocks();

const page = (n: number) => ({ per_page: 100, page: n });

describe('GitLabForge.getMergeRequest', () => {
  it('reads an open merge request with its head sha and bot author', async () => {
    gitlab.get(MR).reply(200, mrBody());
    expect(await forge.getMergeRequest(repo, 1)).toEqual({
      number: 1,
      url: `${HOST}/root/test-deployment-webhooks/-/merge_requests/1`,
      title: 'doom: Add a health check (#23)',
      body: 'Closes #23',
      sourceBranch: 'doom/23-health-check',
      targetBranch: 'master',
      state: 'open',
      headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      author: { id: 53, login: 'project_30_bot_8c4a9f2e1b', isBot: true },
    });
  });

  it('maps merged, closed and locked (merging) states; a human author is not a bot', async () => {
    gitlab
      .get(MR)
      .reply(200, mrBody({ state: 'merged', merged_at: '2025-03-02T09:00:00.000Z', merged_by: alice, merge_commit_sha: '7a1fe4c8f1f4a1b5e0c6d3f6a1b2c3d4e5f6a7b8' }))
      .get(MR)
      .reply(200, mrBody({ state: 'closed', closed_at: '2025-03-02T09:00:00.000Z', author: alice, description: null }))
      .get(MR)
      .reply(200, mrBody({ state: 'locked' }));
    expect(await forge.getMergeRequest(repo, 1)).toMatchObject({ state: 'merged' });
    expect(await forge.getMergeRequest(repo, 1)).toMatchObject({
      state: 'closed',
      body: '',
      author: { id: 101, login: 'alice', isBot: false },
    });
    expect(await forge.getMergeRequest(repo, 1)).toMatchObject({ state: 'open' });
  });

  it('takes the head sha from diff_refs when sha is missing, and honours the bot flag', async () => {
    gitlab.get(MR).reply(200, mrBody({ sha: null, author: { ...person(60, 'ci-helper'), bot: true } }));
    expect(await forge.getMergeRequest(repo, 1)).toMatchObject({
      headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      author: { id: 60, login: 'ci-helper', isBot: true },
    });
  });

  it('a missing merge request is a ForgeApiError 404', async () => {
    gitlab.get('/api/v4/projects/30/merge_requests/404').reply(404, { message: '404 Not found' });
    await expect(forge.getMergeRequest(repo, 404)).rejects.toMatchObject({ name: 'ForgeApiError', status: 404 });
  });
});

describe('GitLabForge.reviews', () => {
  it('merges approvals with reviewer states; a change request wins over a stale approval', async () => {
    gitlab
      .get(`${MR}/approvals`)
      .reply(
        200,
        approvalsBody([
          { user: alice, approved_at: '2025-03-01T11:00:00.000Z' },
          { user: renovate }, // GitLab before 17.x: no approved_at
          { user: frank, approved_at: '2025-03-01T11:30:00.000Z' },
        ]),
      )
      .get(`${MR}/reviewers`)
      .query(page(1))
      .reply(200, [reviewerBody(alice, 'approved'), reviewerBody(bob, 'requested_changes'), reviewerBody(carol, 'reviewed'), reviewerBody(dave, 'unreviewed')], {
        'x-next-page': '2',
        'x-page': '1',
        'x-per-page': '100',
      })
      .get(`${MR}/reviewers`)
      .query(page(2))
      .reply(
        200,
        [
          reviewerBody(erin, 'approved'), // approval reset by a push: not in approved_by
          reviewerBody(frank, 'requested_changes'), // stale approval above
          reviewerBody(gina, 'unapproved'),
          reviewerBody(renovate, 'review_started'),
        ],
        { 'x-next-page': '', 'x-page': '2', 'x-per-page': '100' },
      );

    const verdicts = await forge.reviews(repo, 1);
    expect(verdicts).toEqual([
      { user: { id: 101, login: 'alice', isBot: false }, state: 'approved', at: '2025-03-01T11:00:00.000Z' },
      { user: { id: 54, login: 'renovate-bot', isBot: true }, state: 'approved', at: null },
      { user: { id: 106, login: 'frank', isBot: false }, state: 'changes_requested', at: null },
      { user: { id: 102, login: 'bob', isBot: false }, state: 'changes_requested', at: null },
      { user: { id: 103, login: 'carol', isBot: false }, state: 'commented', at: null },
    ]);
  });

  it('no approvals and no reviewers: no verdicts', async () => {
    gitlab.get(`${MR}/approvals`).reply(200, approvalsBody([])).get(`${MR}/reviewers`).query(page(1)).reply(200, []);
    expect(await forge.reviews(repo, 1)).toEqual([]);
  });
});

describe('GitLabForge.reactions', () => {
  it('maps thumbsup and thumbsdown across pages, everything else is other', async () => {
    gitlab
      .get(`${MR}/award_emoji`)
      .query(page(1))
      .reply(200, [awardBody(1, 'thumbsup', alice), awardBody(2, 'thumbsdown', bob)], { 'x-next-page': '2' })
      .get(`${MR}/award_emoji`)
      .query(page(2))
      .reply(200, [awardBody(3, 'tada', carol), awardBody(4, 'thumbsup', bot)], { 'x-next-page': '' });
    expect(await forge.reactions(repo, 1)).toEqual([
      { user: { id: 101, login: 'alice', isBot: false }, kind: 'up' },
      { user: { id: 102, login: 'bob', isBot: false }, kind: 'down' },
      { user: { id: 103, login: 'carol', isBot: false }, kind: 'other' },
      { user: { id: 53, login: 'project_30_bot_8c4a9f2e1b', isBot: true }, kind: 'up' },
    ]);
  });
});

describe('GitLabForge.report', () => {
  const jobsPath = `/api/v4/projects/30/pipelines/${PIPELINE}/jobs`;

  it('takes the newest job of that name with an archive, across pages, and falls through 404s', async () => {
    gitlab
      .get(jobsPath)
      .query(page(1))
      .reply(200, [jobBody(5001, 'lint', [ARCHIVE, METADATA, TRACE]), jobBody(5002, 'coverage', [TRACE])], { 'x-next-page': '2' })
      .get(jobsPath)
      .query(page(2))
      .reply(200, [jobBody(5007, 'test', [ARCHIVE, METADATA, TRACE]), jobBody(5004, 'test', [ARCHIVE, METADATA, TRACE])], {
        'x-next-page': '',
      })
      // First location: the job named `coverage` has only a log, so it is skipped without a call.
      // Second: the file is not in the archive.
      .get('/api/v4/projects/30/jobs/5007/artifacts/coverage/cobertura-coverage.xml')
      .reply(404, { message: '404 Not Found' })
      // Third: found. Path segments are URL-encoded.
      .get('/api/v4/projects/30/jobs/5007/artifacts/reports/unit%20tests/lcov%231.info')
      .reply(200, LCOV, { 'content-type': 'text/plain; charset=utf-8' });

    expect(
      await forge.report(repo, PIPELINE, [
        { artifact: 'coverage', path: 'coverage/lcov.info' },
        { artifact: 'test', path: 'coverage/cobertura-coverage.xml' },
        { artifact: 'test', path: './reports/unit tests/lcov#1.info' },
      ]),
    ).toBe(LCOV);
  });

  it('is null when no location is there', async () => {
    gitlab
      .get(jobsPath)
      .query(page(1))
      .reply(200, [jobBody(5007, 'test', [ARCHIVE, METADATA, TRACE])])
      .get('/api/v4/projects/30/jobs/5007/artifacts/lcov.info')
      .reply(404, { message: '404 Not Found' });
    expect(
      await forge.report(repo, PIPELINE, [
        { artifact: 'test', path: 'lcov.info' },
        { artifact: 'no-such-job', path: 'lcov.info' },
      ]),
    ).toBeNull();
    expect(await forge.report(repo, PIPELINE, [])).toBeNull();
  });

  it('follows a redirect to object storage without the token', async () => {
    const storage = nock(STORAGE, { badheaders: ['private-token', 'authorization'] });
    const signed = `${STORAGE}/artifacts/5007/lcov.info?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20250301%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Expires=600&X-Amz-Signature=abc123`;
    gitlab
      .get(jobsPath)
      .query(page(1))
      .reply(200, [jobBody(5007, 'test', [ARCHIVE])])
      .get('/api/v4/projects/30/jobs/5007/artifacts/lcov.info')
      .reply(302, '', { location: signed });
    storage.get('/artifacts/5007/lcov.info').query(true).reply(200, LCOV);
    expect(await forge.report(repo, PIPELINE, [{ artifact: 'test', path: 'lcov.info' }])).toBe(LCOV);
  });

  it('refuses a report over the size limit, naming the API URL', async () => {
    const small = new GitLabForge({ url: HOST, token: TOKEN, maxReportBytes: 1024 });
    const raw = '/api/v4/projects/30/jobs/5007/artifacts/lcov.info';
    // One answer streams without a length, one declares it: both stop at the limit.
    gitlab
      .get(jobsPath)
      .query(page(1))
      .times(2)
      .reply(200, [jobBody(5007, 'test', [ARCHIVE])])
      .get(raw)
      .reply(200, () => Readable.from([Buffer.from(LCOV.repeat(100))]))
      .get(raw)
      .reply(200, LCOV.repeat(100), { 'content-length': String(LCOV.length * 100) });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await small.report(repo, PIPELINE, [{ artifact: 'test', path: 'lcov.info' }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ForgeApiError);
      expect((error as Error).message).toBe(`GET ${HOST}${raw} failed with 0: report is over the limit of 1024 bytes`);
    }
  });

  it('refuses paths with . or .. segments instead of sending them', async () => {
    gitlab.get(jobsPath).query(page(1)).reply(200, [jobBody(5007, 'test', [ARCHIVE])]);
    await expect(forge.report(repo, PIPELINE, [{ artifact: 'test', path: 'coverage/../../../../jobs/1/trace' }])).rejects.toThrow(
      /report path "coverage\/..\/..\/..\/..\/jobs\/1\/trace" must be a relative path/,
    );
  });

  it('other failures are ForgeApiErrors without the token', async () => {
    gitlab
      .get(jobsPath)
      .query(page(1))
      .reply(200, [jobBody(5007, 'test', [ARCHIVE])])
      .get('/api/v4/projects/30/jobs/5007/artifacts/lcov.info')
      .reply(403, { message: `403 Forbidden (token ${TOKEN})` });
    const error = await forge.report(repo, PIPELINE, [{ artifact: 'test', path: 'lcov.info' }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ForgeApiError', status: 403 });
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('GitLabForge.pipelineCoverage', () => {
  it("is the single pipeline's coverage (the Pipeline Hook does not carry it), null when it has none", async () => {
    gitlab
      .get('/api/v4/projects/30/pipelines/1642')
      .reply(200, pipelineBody(1642, { sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', ref: 'refs/merge-requests/1/head', source: 'merge_request_event', coverage: '82.5', duration: 300 }))
      .get('/api/v4/projects/30/pipelines/1643')
      .reply(200, pipelineBody(1643, { coverage: null }));
    expect(await forge.pipelineCoverage(repo, 1642)).toBe(82.5);
    expect(await forge.pipelineCoverage(repo, 1643)).toBeNull();
  });

  it('a missing pipeline is a ForgeApiError 404', async () => {
    gitlab.get('/api/v4/projects/30/pipelines/9').reply(404, { message: '404 Not found' });
    await expect(forge.pipelineCoverage(repo, 9)).rejects.toMatchObject({ name: 'ForgeApiError', status: 404 });
  });
});

describe('GitLabForge.latestSuccessfulPipeline', () => {
  const listQuery = { ref: 'master', status: 'success', order_by: 'id', sort: 'desc', per_page: 1 };

  it('is the newest successful pipeline on the ref, with its coverage', async () => {
    gitlab
      .get('/api/v4/projects/30/pipelines')
      .query(listQuery)
      .reply(200, [pipelineBody(1640)])
      .get('/api/v4/projects/30/pipelines/1640')
      .reply(
        200,
        pipelineBody(1640, {
          before_sha: '0000000000000000000000000000000000000000',
          tag: false,
          yaml_errors: null,
          user: alice,
          started_at: '2025-03-01T09:00:05.000Z',
          finished_at: '2025-03-01T09:06:00.000Z',
          committed_at: null,
          duration: 355,
          queued_duration: 0.8,
          coverage: '87.5',
          detailed_status: { icon: 'status_success', text: 'passed', label: 'passed', group: 'success' },
        }),
      );
    expect(await forge.latestSuccessfulPipeline(repo, 'master')).toEqual({
      id: 1640,
      sha: 'c380d3acebd181f13629a25d2e2acca46ffe1e00',
      coverage: 87.5,
    });
  });

  it('coverage is null when the pipeline has none, and the result null when there is no pipeline', async () => {
    gitlab
      .get('/api/v4/projects/30/pipelines')
      .query(listQuery)
      .reply(200, [pipelineBody(1640)])
      .get('/api/v4/projects/30/pipelines/1640')
      .reply(200, pipelineBody(1640, { coverage: null }))
      .get('/api/v4/projects/30/pipelines')
      .query(listQuery)
      .reply(200, []);
    expect(await forge.latestSuccessfulPipeline(repo, 'master')).toMatchObject({ id: 1640, coverage: null });
    expect(await forge.latestSuccessfulPipeline(repo, 'master')).toBeNull();
  });
});
