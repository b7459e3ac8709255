/**
 * The GitHub calls of the review and CI loops through Probot's Octokit, against nock with the
 * shapes GitHub documents (review, review comments, workflow run jobs, job logs).
 */
import nock from 'nock';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { createProbot } from '../../../src/forges/github/app.js';
import { GitHubForge } from '../../../src/forges/github/client.js';
import type { RepoLocator } from '../../../src/forges/forge.js';
import { testPrivateKey } from '../../helpers/app.js';
import { strictForgeMocks } from '../../helpers/network.js';
import { account, API } from './payloads.js';

const INSTALLATION = 4242;
const repo: RepoLocator = { id: 186853002, fullName: 'Codertocat/Hello-World' };
const octocat = account('octocat', 583231);
const base = '/repos/Codertocat/Hello-World';

let forge: GitHubForge;
let github: nock.Scope;

beforeEach(async () => {
  const probot = createProbot({ appId: '1234', privateKey: testPrivateKey(), secret: 'secret', log: pino({ level: 'silent' }), retry: { sleep: async () => undefined } });
  github = nock(API)
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .reply(201, { token: 'ghs_16C7e42F292c6912E7710c838347Ae178B4a', expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {}, repository_selection: 'selected' });
  forge = new GitHubForge(await probot.auth(INSTALLATION));
});

strictForgeMocks();

describe('GitHubForge, review rounds and CI fixes', () => {
  it('reviewComments: the review body, then its inline comments with path and line (the original line when it is outdated)', async () => {
    github
      .get(`${base}/pulls/2/reviews/80`)
      .reply(200, { id: 80, user: octocat, body: 'Please rename it.', state: 'CHANGES_REQUESTED', commit_id: 'a'.repeat(40), submitted_at: '2026-11-21T10:00:00Z' })
      .get(`${base}/pulls/2/reviews/80/comments`)
      .query({ per_page: 100 })
      .reply(200, [
        { id: 1, pull_request_review_id: 80, user: octocat, body: 'Here.', path: 'src/a.ts', line: 12, original_line: 12, diff_hunk: '@@' },
        { id: 2, pull_request_review_id: 80, user: octocat, body: 'And here.', path: 'src/b.ts', line: null, original_line: 3, diff_hunk: '@@' },
      ]);
    const who = { id: 583231, login: 'octocat', isBot: false };
    expect(await forge.reviewComments(repo, 2, 80)).toEqual([
      { author: who, body: 'Please rename it.', path: null, line: null },
      { author: who, body: 'Here.', path: 'src/a.ts', line: 12 },
      { author: who, body: 'And here.', path: 'src/b.ts', line: 3 },
    ]);
  });

  it('reviewComments without a review id reads nothing', async () => {
    nock.cleanAll();
    expect(await forge.reviewComments(repo, 2)).toEqual([]);
  });

  it('failedJobs: the latest attempt\'s failed and timed-out jobs', async () => {
    github
      .get(`${base}/actions/runs/30433642/jobs`)
      .query({ filter: 'latest', per_page: 100 })
      .reply(200, {
        total_count: 3,
        jobs: [
          { id: 1, run_id: 30433642, name: 'build', status: 'completed', conclusion: 'success', html_url: 'https://github.com/x/1' },
          { id: 2, run_id: 30433642, name: 'test', status: 'completed', conclusion: 'failure', html_url: 'https://github.com/x/2' },
          { id: 3, run_id: 30433642, name: 'e2e', status: 'completed', conclusion: 'timed_out', html_url: null },
        ],
      });
    expect(await forge.failedJobs(repo, 30433642)).toEqual([
      { id: 2, name: 'test', url: 'https://github.com/x/2' },
      { id: 3, name: 'e2e', url: null },
    ]);
  });

  it('latestPipeline: the newest completed push run of the branch', async () => {
    github
      .get(`${base}/actions/runs`)
      .query({ branch: 'main', event: 'push', status: 'completed', exclude_pull_requests: true, per_page: 1 })
      .reply(200, { total_count: 1, workflow_runs: [{ id: 99, head_sha: 'b'.repeat(40), conclusion: 'failure' }] });
    expect(await forge.latestPipeline(repo, 'main')).toEqual({ id: 99, sha: 'b'.repeat(40), coverage: null });
  });

  it('jobLog: follows the redirect to the log (no token sent there) and keeps its last bytes', async () => {
    github.get(`${base}/actions/jobs/2/logs`).reply(302, '', { location: 'https://pipelines.actions.githubusercontent.com/logs/2?sig=x' });
    const storage = nock('https://pipelines.actions.githubusercontent.com', { badheaders: ['authorization'] })
      .get('/logs/2')
      .query({ sig: 'x' })
      .reply(200, `${'ok\n'.repeat(500)}Error: it broke`, { 'content-type': 'text/plain' });
    const log = await forge.jobLog(repo, 2, 64);
    expect(log.length).toBe(64);
    expect(log.endsWith('Error: it broke')).toBe(true);
    expect(storage.isDone()).toBe(true);
  });
});
