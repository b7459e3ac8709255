/**
 * The GitLab calls of the review and CI loops, against nock with the shapes GitLab documents
 * (MR discussions, pipeline jobs, job traces, pipelines).
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { RepoLocator } from '../../../src/forges/forge.js';
import { GitLabForge } from '../../../src/forges/gitlab/client.js';
import { strictForgeMocks } from '../../helpers/network.js';

const HOST = 'https://gitlab.example.com';
const TOKEN = 'glpat-Xq3vTz9kLm2Np8Rs4Wy6';
const repo: RepoLocator = { id: 30, fullName: 'root/test-deployment-webhooks' };
const api = () => nock(HOST, { reqheaders: { 'private-token': TOKEN } });
const forge = () => new GitLabForge({ url: HOST, token: TOKEN });

const alice = { id: 7, username: 'alice', name: 'Alice', state: 'active', avatar_url: '', web_url: `${HOST}/alice` };
const bot = { id: 53, username: 'project_30_bot_8c4a9f2e1b', name: 'doom-rlvr', state: 'active', avatar_url: '', web_url: '' };

function note(id: number, body: string, extra: Record<string, unknown> = {}) {
  return { id, type: 'DiffNote', body, author: alice, system: false, noteable_type: 'MergeRequest', resolvable: true, resolved: false, ...extra };
}

describe('GitLab forge: review rounds and CI fixes', () => {
  strictForgeMocks();

  it('reviewComments: the notes of unresolved threads, with the new file path and line; resolved threads and system notes left out', async () => {
    api()
      .get('/api/v4/projects/30/merge_requests/1/discussions')
      .query({ per_page: '100', page: '1' })
      .reply(
        200,
        [
          { id: 'd1', individual_note: false, notes: [note(1, 'Rename this.', { position: { new_path: 'src/a.ts', old_path: 'src/a.ts', new_line: 12, old_line: null } }), note(2, 'Agreed.', { type: 'DiscussionNote', position: null })] },
          { id: 'd2', individual_note: false, notes: [note(3, 'Done, thanks', { resolved: true })] },
          { id: 'd3', individual_note: true, notes: [note(4, 'Nice work', { type: null, resolvable: false })] },
          { id: 'd4', individual_note: true, notes: [note(5, 'changed the description', { system: true, author: bot })] },
          { id: 'd5', individual_note: false, notes: [note(6, 'This line went away', { position: { new_path: null, old_path: 'src/old.ts', new_line: null, old_line: 4 } })] },
        ],
        { 'x-next-page': '' },
      );
    expect(await forge().reviewComments(repo, 1)).toEqual([
      { author: { id: 7, login: 'alice', isBot: false }, body: 'Rename this.', path: 'src/a.ts', line: 12 },
      { author: { id: 7, login: 'alice', isBot: false }, body: 'Agreed.', path: null, line: null },
      { author: { id: 7, login: 'alice', isBot: false }, body: 'This line went away', path: 'src/old.ts', line: 4 },
    ]);
  });

  it('failedJobs: failed jobs of the pipeline, leaving out those allowed to fail', async () => {
    api()
      .get('/api/v4/projects/30/pipelines/88/jobs')
      .query({ 'scope[]': 'failed', per_page: '100', page: '1' })
      .reply(
        200,
        [
          { id: 901, name: 'test', status: 'failed', allow_failure: false, stage: 'test', web_url: `${HOST}/root/x/-/jobs/901` },
          { id: 902, name: 'flaky-e2e', status: 'failed', allow_failure: true, stage: 'test', web_url: `${HOST}/root/x/-/jobs/902` },
        ],
        { 'x-next-page': '' },
      );
    expect(await forge().failedJobs(repo, 88)).toEqual([{ id: 901, name: 'test', url: `${HOST}/root/x/-/jobs/901` }]);
  });

  it('latestPipeline: the newest finished pipeline of the ref, whatever its status', async () => {
    api()
      .get('/api/v4/projects/30/pipelines')
      .query({ ref: 'main', scope: 'finished', order_by: 'id', sort: 'desc', per_page: '1' })
      .reply(200, [{ id: 77, iid: 12, project_id: 30, sha: 'c'.repeat(40), ref: 'main', status: 'failed', source: 'push' }]);
    expect(await forge().latestPipeline(repo, 'main')).toEqual({ id: 77, sha: 'c'.repeat(40), coverage: null });
  });

  it('jobLog: the trace as text, only its last bytes when it is long', async () => {
    const trace = `${'noise\n'.repeat(1000)}Error: the end`;
    api().get('/api/v4/projects/30/jobs/901/trace').reply(200, trace, { 'content-type': 'text/plain' });
    const log = await forge().jobLog(repo, 901, 100);
    expect(log.length).toBe(100);
    expect(log.endsWith('Error: the end')).toBe(true);
  });
});
