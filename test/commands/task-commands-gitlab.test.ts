/**
 * The task commands on GitLab, through the real HTTP server: GitLab's documented Note Hook
 * examples (a note on issue #17, a note on merge request !1, made a discussion reply or a
 * diff note) with `/doom` bodies and the hook token; the REST API answered by nock
 * (FakeGitLab); the store a real SQLite file; the executor parked.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertTask } from '../../src/store/tasks.js';
import type { NewTask } from '../../src/store/schema.js';
import { GITLAB_TOKEN, GITLAB_URL, postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { newTask } from '../helpers/tasks.js';

type Payload = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data

const ISSUE_NOTES = '/api/v4/projects/5/issues/17/notes';
const MR_NOTES = '/api/v4/projects/5/merge_requests/1/notes';

/** note-hook-issue.json (issue #17 of project 5) with `note`, by `user`. */
function issueNote(body: string, options: { user?: Payload; id?: number } = {}): Payload {
  const p = gitlabFixture('note-hook-issue.json');
  p.user = { ...p.user, ...options.user };
  p.object_attributes = { ...p.object_attributes, note: body, author_id: p.user.id, id: options.id ?? 1241, action: 'create' };
  return p;
}

/** note-hook-merge-request.json (!1 of project 5) as a reply in a discussion, or a diff note. */
function mergeRequestNote(body: string, options: { id: number; type?: 'DiscussionNote' | 'DiffNote'; user?: Payload }): Payload {
  const p = gitlabFixture('note-hook-merge-request.json');
  p.user = { ...p.user, ...options.user };
  p.object_attributes = {
    ...p.object_attributes,
    id: options.id,
    note: body,
    author_id: p.user.id,
    action: 'create',
    type: options.type ?? 'DiscussionNote',
    discussion_id: '6a9c1750b37d513a43987b574953fceb50b03ce7',
  };
  return p;
}

const reporter = { id: 3, username: 'rep', name: 'Re Porter' };

describe('task commands on GitLab', () => {
  let app: TestApp;
  let gitlab: FakeGitLab;
  let awards: string[];

  onlyLocalNetwork();
  beforeEach(async () => {
    gitlab = new FakeGitLab().install();
    gitlab.members.set('rep', { id: 3, username: 'rep', access_level: 20 });
    gitlab.issues.set(17, { iid: 17, state: 'opened', title: 'Fix the greeting', description: 'It says hullo.', labels: ['bug'] });
    awards = [];
    nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } })
      .persist()
      .post(/^\/api\/v4\/projects\/5\/(issues\/17|merge_requests\/1)\/notes\/\d+\/award_emoji$/)
      .reply((uri) => {
        awards.push(uri);
        return [201, { id: 77, name: 'eyes', user: { id: 99, username: 'project_5_bot_3f2c' }, awardable_type: 'Note' }];
      });
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const send = async (payload: Payload) => {
    const response = await postGitLab(app.url, 'Note Hook', payload);
    expect(response.status).toBeLessThan(300);
    await settled(app);
  };
  const onlyReply = (notes: string, id: number) => {
    const found = (gitlab.notes.get(notes) ?? []).filter((n) => n.body.includes(`doom-rlvr:command:${id} -->`));
    expect(found).toHaveLength(1);
    return found[0]!.body;
  };
  const task = async () => app.store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow();
  const store = async (row: Partial<NewTask>) =>
    (
      await insertTask(
        app.store.db,
        newTask({
          forge: 'gitlab',
          installation_id: null,
          repo_id: 5,
          repo: 'gitlab-org/gitlab-test',
          repo_url: 'http://example.com/gitlab-org/gitlab-test',
          issue_number: 17,
          issue_url: 'http://example.com/gitlab-org/gitlab-test/issues/17',
          default_branch: 'master',
          ...row,
        }),
      )
    ).task;
  const openMergeRequest = () =>
    gitlab.mergeRequests.push({
      id: 9001,
      iid: 1,
      project_id: 5,
      title: 'Fix the greeting',
      description: '',
      state: 'opened',
      web_url: `${GITLAB_URL}/gitlab-org/gitlab-test/-/merge_requests/1`,
      source_branch: 'doom/1-fix-the-greeting',
      target_branch: 'master',
      labels: [],
      author: { id: 99, username: 'project_5_bot_3f2c', bot: true },
      sha: 'a'.repeat(40),
      approvedBy: [],
      reviewers: [],
      emoji: [],
    });

  it('a developer\'s assign on an issue starts its task: the label goes on through the API, the router picks an agent', async () => {
    await send(issueNote('/doom assign agent-bugfix-senior'));
    expect(await task()).toMatchObject({ forge: 'gitlab', issue_number: 17, type: 'bugfix', status: 'assigned', assigned_agent: 'agent-bugfix-senior', forced_agent: 'agent-bugfix-senior' });
    const labelEdits = gitlab.made('PUT', /issues\/17$/).map((c) => c.body.add_labels).filter(Boolean);
    expect(labelEdits[0]).toBe('doom,agent:agent-bugfix-senior');
    expect(gitlab.issues.get(17)!.labels).toEqual(expect.arrayContaining(['bug', 'doom', 'agent:agent-bugfix-senior', 'doom:assigned']));
    expect(onlyReply(ISSUE_NOTES, 1241)).toContain('Started task #1 for this issue. Assigned to `agent-bugfix-senior`: forced by the operator');
    expect(awards).toEqual([`${ISSUE_NOTES}/1241/award_emoji`]);
  });

  it('on the merge request: retry in a discussion reply keeps the open MR\'s branch, cancel in a diff note stops it, status shows both', async () => {
    openMergeRequest();
    const mr = `${GITLAB_URL}/gitlab-org/gitlab-test/-/merge_requests/1`;
    await store({ status: 'completed', branch: 'doom/1-fix-the-greeting', pr_number: 1, pr_url: mr, tokens_used: 5100, cost_usd: 0.12 });
    await send(mergeRequestNote('/doom retry', { id: 1300 }));
    // As a relabel would: the issue read again (its title now), the trigger label put back.
    expect(await task()).toMatchObject({ status: 'assigned', branch: 'doom/1-fix-the-greeting', pr_number: 1, title: 'Fix the greeting', max_tokens: 200000 });
    expect(gitlab.issues.get(17)!.labels).toEqual(expect.arrayContaining(['bug', 'doom']));
    expect(onlyReply(MR_NOTES, 1300)).toContain('A new attempt at task #1. Assigned to `agent-bugfix-junior`');
    await send(mergeRequestNote('/doom escalate', { id: 1303 }));
    expect(await task()).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-senior', min_tier: 'senior', escalations: 1 });
    expect(onlyReply(MR_NOTES, 1303)).toContain('Task #1 escalated: only senior agents or above may take it');
    await send(mergeRequestNote('/doom cancel', { id: 1301, type: 'DiffNote' }));
    expect(await task()).toMatchObject({ status: 'failed', error_message: 'cancelled by gitlab:root (/doom cancel)' });
    await send(mergeRequestNote('/doom status', { id: 1302 }));
    const status = onlyReply(MR_NOTES, 1302);
    expect(status).toContain('- task: #1, **failed**');
    expect(status).toMatch(/- run: #2 cancelled/);
    expect(status).toContain('- agent: `agent-bugfix-senior`, senior');
    expect(status).toContain('- used so far: 5100 tokens of 200000 per run, $0.12');
    expect(status).toContain(`- merge request: ${mr}`);
    expect(awards).toEqual([1300, 1303, 1301, 1302].map((id) => `${MR_NOTES}/${id}/award_emoji`));
  });

  it('feedback and a budget raise from a developer are stored; a reporter is refused both and nothing changes', async () => {
    openMergeRequest();
    await store({ status: 'completed', pr_number: 1, pr_url: `${GITLAB_URL}/gitlab-org/gitlab-test/-/merge_requests/1` });
    await send(mergeRequestNote('/doom feedback +1 "clear and small"\n/doom budget 300k', { id: 1400, user: reporter }));
    const refused = onlyReply(MR_NOTES, 1400);
    expect(refused).toContain('**`/doom feedback`** refused: rep has only read access; write access is needed');
    expect(refused).toContain('**`/doom budget`** refused: rep has only read access');
    expect(await app.store.db.selectFrom('task_feedback').selectAll().execute()).toEqual([]);
    expect((await task()).max_tokens).toBe(1000);

    await send(mergeRequestNote('/doom feedback +1 "clear and small"\n/doom budget 300k', { id: 1401 }));
    expect(await app.store.db.selectFrom('task_feedback').select(['login', 'user_id', 'vote', 'text', 'comment_id']).execute()).toEqual([
      { login: 'root', user_id: 1, vote: 1, text: '"clear and small"', comment_id: 1401 },
    ]);
    expect((await task()).max_tokens).toBe(300000);
    const reply = onlyReply(MR_NOTES, 1401);
    expect(reply).toContain('Recorded +1 from @root');
    expect(reply).toContain('Task #1 may now use 300000 tokens per run (was 1000 tokens)');
  });

  it('an unknown command gets help; a command on an MR with no task says so', async () => {
    await send(mergeRequestNote('/doom deploy\n/doom cancel', { id: 1500 }));
    const reply = onlyReply(MR_NOTES, 1500);
    expect(reply).toContain('**`/doom deploy`** is not a command.');
    expect(reply).toContain('| `/doom cancel` | write |  |');
    expect(reply).toContain('**`/doom cancel`** did nothing: there is no task for this merge request');
  });
});
