/**
 * The task commands on GitHub, through the real HTTP server: the published `issue_comment`,
 * `pull_request_review` and `pull_request_review_comment` examples with `/doom` bodies,
 * signed; the REST API answered by nock (FakeGitHub); the store a real SQLite file; the
 * executor parked, so assigned tasks stay assigned.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAgent } from '../../src/store/agents.js';
import { getTask, insertTask } from '../../src/store/tasks.js';
import type { NewTask } from '../../src/store/schema.js';
import { postGitHub, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { githubExample, type GitHubExample } from '../helpers/fixtures.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { newTask } from '../helpers/tasks.js';
import { heldExecutor } from '../support/executor.js';

const INSTALLATION = 4242;
const REPO = 'Codertocat/Hello-World';
const PULL = 2;

const withInstallation = (event: string, action: string) => githubExample(event, (e) => e.action === action && Boolean(e.installation));

/** The published issue comment on issue #1 (or on pull request #2), by `user`. */
function comment(body: string, options: { user?: GitHubExample; id?: number; onPull?: boolean } = {}): GitHubExample {
  const p = withInstallation('issue_comment', 'created');
  const user = { ...p.comment.user, ...options.user };
  p.comment = { ...p.comment, id: options.id ?? 501, body, user };
  p.sender = { ...p.sender, ...options.user };
  p.installation = { id: INSTALLATION };
  if (options.onPull) p.issue = { ...p.issue, number: PULL, pull_request: { url: `https://api.github.com/repos/${REPO}/pulls/${PULL}` } };
  return p;
}

const reader = { login: 'reader', id: 5, type: 'User' };
const maintainer = { login: 'maintainer', id: 9, type: 'User' };

describe('task commands on GitHub', () => {
  let app: TestApp;
  let github: FakeGitHub;
  let reactions: string[];

  onlyLocalNetwork();
  beforeEach(async () => {
    github = new FakeGitHub(REPO, INSTALLATION).install();
    github.permissions.set('reader', 'read').set('maintainer', 'maintain');
    github.issues.set(1, { number: 1, state: 'open', title: 'Spelling error in the README file', body: "It looks like you accidently spelled 'commit' with two 't's.", labels: ['bug'] });
    reactions = [];
    nock('https://api.github.com')
      .persist()
      .post(/^\/repos\/Codertocat\/Hello-World\/(issues|pulls)\/comments\/\d+\/reactions$/)
      .reply((uri) => {
        reactions.push(uri.replace('/repos/Codertocat/Hello-World', ''));
        return [201, { id: 1, content: 'eyes', user: github.bot }];
      });
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const send = async (event: string, payload: GitHubExample) => {
    const response = await postGitHub(app.url, event, payload);
    expect(response.status).toBeLessThan(300);
    await settled(app);
  };
  const replyTo = (id: number | string, thread = 1) => (github.comments.get(thread) ?? []).filter((c) => c.body.includes(`doom-rlvr:command:${id} -->`));
  const onlyReply = (id: number | string, thread = 1) => {
    const found = replyTo(id, thread);
    expect(found).toHaveLength(1);
    return found[0]!.body;
  };
  const task = async () => (await app.store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow());
  const store = async (row: Partial<NewTask>) => (await insertTask(app.store.db, newTask({ installation_id: INSTALLATION, ...row }))).task;
  const audited = async (event: string) => app.store.db.selectFrom('audit_log').selectAll().where('event', '=', event).execute();

  it('assign starts the issue\'s task: the trigger label goes on the issue, the router picks an agent', async () => {
    await send('issue_comment', comment('/doom assign'));
    const t = await task();
    expect(t).toMatchObject({ issue_number: 1, type: 'bugfix', status: 'assigned', assigned_agent: 'agent-bugfix-junior' });
    expect(github.issues.get(1)!.labels).toEqual(expect.arrayContaining(['bug', 'doom', 'doom:assigned']));
    expect(JSON.parse((await audited('task.created'))[0]!.data)).toMatchObject({ via: '/doom assign', labels: ['doom'] });
    const reply = onlyReply(501);
    expect(reply).toContain(`Started task #${t.id} for this issue. Assigned to \`agent-bugfix-junior\`: bugfix specialist, tier junior`);
    expect(reactions).toEqual(['/issues/comments/501/reactions']);
  });

  it('assign <agent> routes again to that agent; an unknown or suspended agent is refused and nothing changes', async () => {
    await send('issue_comment', comment('/doom assign'));
    await send('issue_comment', comment('/doom assign agent-principal', { id: 502 }));
    expect(await task()).toMatchObject({ status: 'assigned', assigned_agent: 'agent-principal' });
    const runs = await app.store.db.selectFrom('assignments').select(['agent_name', 'status']).orderBy('id').execute();
    expect(runs).toEqual([
      { agent_name: 'agent-bugfix-junior', status: 'cancelled' },
      { agent_name: 'agent-principal', status: 'assigned' },
    ]);
    expect(onlyReply(502)).toContain('went back to the router. Assigned to `agent-principal`: forced by the operator');

    const before = await task();
    await send('issue_comment', comment('/doom assign agent-nobody', { id: 503 }));
    expect(onlyReply(503)).toContain('**`/doom assign`** did nothing: agent "agent-nobody" does not exist');
    await app.store.db.updateTable('agents').set({ tier: 'suspended' }).where('name', '=', 'agent-bugfix-senior').execute();
    await send('issue_comment', comment('/doom assign agent-bugfix-senior', { id: 504 }));
    expect(onlyReply(504)).toContain('did nothing: agent "agent-bugfix-senior" is suspended');
    expect(await task()).toEqual(before);
  });

  it('a reader is refused assign, naming the role: no task, no label', async () => {
    await send('issue_comment', comment('/doom assign', { user: reader }));
    expect(onlyReply(501)).toContain('**`/doom assign`** refused: reader has only read access; write access is needed. It is for people with write access');
    expect(await app.store.db.selectFrom('tasks').selectAll().execute()).toEqual([]);
    expect(github.made('POST', /labels$/)).toEqual([]);
  });

  it('retry --tier senior: a failed task gets a new attempt at senior or above', async () => {
    const failed = await store({ status: 'failed', error_message: 'the tests failed', completed_at: new Date().toISOString() });
    await send('issue_comment', comment('/doom retry --tier senior'));
    expect(await getTask(app.store.db, failed.id)).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-senior', min_tier: 'senior', error_message: null });
    expect(JSON.parse((await audited('task.retried'))[0]!.data)).toMatchObject({ min_tier: 'senior', via: '/doom retry' });
    expect(github.issues.get(1)!.labels).toEqual(expect.arrayContaining(['bug', 'doom']));
    expect(onlyReply(501)).toContain(`A new attempt at task #${failed.id} at senior or above. Assigned to \`agent-bugfix-senior\``);
  });

  it('retry of a task whose issue was closed, or no longer describes a task, changes nothing', async () => {
    await store({ status: 'failed', error_message: 'the tests failed' });
    github.issues.get(1)!.state = 'closed';
    await send('issue_comment', comment('/doom retry'));
    expect(onlyReply(501)).toContain('did nothing: issue #1 is closed; reopen it first');
    github.issues.get(1)!.state = 'open';
    github.issues.get(1)!.labels = ['bug', 'agent:a', 'agent:b'];
    await send('issue_comment', comment('/doom escalate', { id: 502 }));
    expect(onlyReply(502)).toContain('did nothing: the issue does not describe a task: more than one forced agent: a, b');
    expect(await task()).toMatchObject({ status: 'failed', error_message: 'the tests failed', escalations: 0 });
    expect(github.made('POST', /labels$/)).toEqual([]);
  });

  it('retry of a task that is only waiting, and every task command on a running task, change nothing', async () => {
    await send('issue_comment', comment('/doom assign'));
    await send('issue_comment', comment('/doom retry', { id: 502 }));
    expect(onlyReply(502)).toContain('did nothing: task #1 is assigned, not finished: nothing to retry');
    await app.store.db.updateTable('tasks').set({ status: 'in_progress' }).execute();
    const before = await task();
    await send('issue_comment', comment('/doom assign\n/doom retry --tier principal', { id: 503 }));
    const reply = onlyReply(503);
    for (const name of ['assign', 'retry']) {
      expect(reply).toContain(`**\`/doom ${name}\`** did nothing: task #1 is in_progress: its run is under way; \`/doom cancel\` stops it, then \`/doom ${name}\``);
    }
    expect(await task()).toEqual(before);
  });

  it('escalate: the floor goes one tier above the agent that had it, and the task is routed again', async () => {
    await send('issue_comment', comment('/doom assign'));
    await send('issue_comment', comment('/doom escalate', { id: 502 }));
    expect(await task()).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-senior', min_tier: 'senior', escalations: 1 });
    expect(onlyReply(502)).toContain('escalated: only senior agents or above may take it');
    await send('issue_comment', comment('/doom escalate', { id: 503 }));
    expect(await task()).toMatchObject({ assigned_agent: 'agent-principal', min_tier: 'principal', escalations: 2 });
    const before = await task();
    await send('issue_comment', comment('/doom escalate', { id: 504 }));
    expect(onlyReply(504)).toContain('did nothing: task #1 is already at principal: there is no tier above');
    expect(await task()).toEqual(before);
  });

  it('cancel stops a task no run has started; a second cancel has nothing to cancel', async () => {
    await send('issue_comment', comment('/doom assign'));
    await send('issue_comment', comment('/doom cancel', { id: 502 }));
    expect(await task()).toMatchObject({ status: 'failed', error_message: 'cancelled by github:Codertocat (/doom cancel)', assigned_agent: 'agent-bugfix-junior' });
    expect(github.issues.get(1)!.labels).not.toContain('doom:assigned');
    expect(onlyReply(502)).toContain('Task #1 is cancelled; no run had started. `/doom retry` (or the trigger label again) starts a new attempt.');
    await send('issue_comment', comment('/doom cancel', { id: 503 }));
    expect(onlyReply(503)).toContain('did nothing: task #1 is failed: nothing to cancel');
  });

  it('budget shows, raises tokens and dollars within [commands] max_budget_tokens and max_budget_usd, and never lowers', async () => {
    await store({ status: 'failed', max_tokens: 1000, tokens_used: 1400, cost_usd: 0.25 });
    await send('issue_comment', comment('/doom budget\n/doom budget 200k\n/doom budget 5M\n/doom budget $5\n/doom budget 100\n/doom budget $50\n/doom budget $3'));
    const reply = onlyReply(501);
    expect(reply).toContain('Task #1 may use 1000 tokens per run; 1400 tokens used so far, $0.25. It may be raised up to 1000000 tokens and $20');
    expect(reply).toContain('Task #1 may now use 200000 tokens per run (was 1000 tokens); 1400 tokens used so far, $0.25. `/doom retry` starts a run with it.');
    expect(reply).toContain('**`/doom budget`** did nothing: at most 1000000 tokens may be asked for here ([commands] max_budget_tokens)');
    // The task had no dollar limit: $5 is its first one.
    expect(reply).toContain('Task #1 may now use 200000 tokens and $5 per run (was no dollar limit)');
    expect(reply).toContain('did nothing: task #1 already has 200000 tokens; a budget is only raised here');
    expect(reply).toContain('did nothing: at most $20 per run may be asked for here ([commands] max_budget_usd)');
    expect(reply).toContain('did nothing: task #1 already has $5 per run; a budget is only raised here');
    expect(await task()).toMatchObject({ max_tokens: 200000, max_usd: 5, status: 'failed' });
    expect((await audited('task.budget_raised')).map((a) => JSON.parse(a.data))).toEqual([
      { from: 1000, to: 200000 },
      { from_usd: null, to_usd: 5 },
    ]);
  });

  it('feedback on the pull request is recorded once per person; a reader\'s is refused', async () => {
    await store({ status: 'completed', pr_number: PULL, pr_url: `https://github.com/${REPO}/pull/${PULL}` });
    await send('issue_comment', comment('/doom feedback -1 the tests only cover the happy path', { onPull: true }));
    await send('issue_comment', comment('/doom feedback +1', { onPull: true, id: 502 }));
    await send('issue_comment', comment('/doom feedback +1', { onPull: true, id: 503, user: reader }));
    const votes = await app.store.db.selectFrom('task_feedback').select(['login', 'vote', 'text', 'mr_number']).execute();
    expect(votes).toEqual([{ login: 'Codertocat', vote: 1, text: null, mr_number: PULL }]);
    expect(onlyReply(501, PULL)).toContain(`Recorded -1 from @Codertocat on https://github.com/${REPO}/pull/${PULL}. It counts in \`review_feedback_score\` (0.2 per vote) once the first pipeline gives the reward.`);
    expect(onlyReply(502, PULL)).toContain('Recorded +1 from @Codertocat on https://github.com/Codertocat/Hello-World/pull/2 (it replaces your -1).');
    expect(onlyReply(503, PULL)).toContain('refused: reader has only read access');
  });

  it('a maintainer\'s suspension from a comment has the consequences of a CLI one: its unstarted task is routed again', async () => {
    await send('issue_comment', comment('/doom assign'));
    await send('issue_comment', comment('/doom suspend agent-bugfix-junior --reason flaky', { user: maintainer, id: 502 }));
    expect((await getAgent(app.store.db, 'agent-bugfix-junior'))?.tier).toBe('suspended');
    expect(await task()).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-senior' });
    expect(onlyReply(502)).toContain('Suspended `agent-bugfix-junior`: it takes no tasks until reinstated or promoted. 1 task(s) it had not started went back to the router');
    expect(JSON.parse((await audited('agent.tier_changed'))[0]!.data)).toMatchObject({ source: 'manual', to: 'suspended' });
  });

  it('a review body is read: the reply goes on the pull request under its own marker, with no reaction (GitHub has none for reviews)', async () => {
    await store({ status: 'completed', pr_number: PULL, pr_url: `https://github.com/${REPO}/pull/${PULL}` });
    const review = withInstallation('pull_request_review', 'submitted');
    review.installation = { id: INSTALLATION };
    review.review = { ...review.review, id: 501, body: 'Nearly there.\n/doom status' };
    await send('pull_request_review', review);
    expect(replyTo(501, PULL)).toEqual([]);
    const reply = onlyReply('review:501', PULL);
    expect(reply).toContain('- task: #1, **completed**');
    expect(reply).toContain(`- merge request: https://github.com/${REPO}/pull/${PULL}`);
    expect(reactions).toEqual([]);
  });

  it('an inline review comment is read and acknowledged; an edited one and a bot\'s are ignored', async () => {
    await store({ status: 'completed', pr_number: PULL, pr_url: `https://github.com/${REPO}/pull/${PULL}` });
    const inline = (action: string, body: string, user?: GitHubExample) => {
      const p = withInstallation('pull_request_review_comment', action);
      p.installation = { id: INSTALLATION };
      p.comment = { ...p.comment, body, user: { ...p.comment.user, ...user } };
      return p;
    };
    await send('pull_request_review_comment', inline('created', '/doom feedback +1 clean fix'));
    expect(reactions).toEqual(['/pulls/comments/284312630/reactions']);
    expect(onlyReply('review_comment:284312630', PULL)).toContain('Recorded +1 from @Codertocat');
    const edited = inline('edited', '/doom feedback -1');
    edited.comment.id = 284312631;
    await send('pull_request_review_comment', edited);
    const byBot = inline('created', '/doom feedback -1', { login: 'lint-app[bot]', id: 77, type: 'Bot' });
    byBot.comment.id = 284312632;
    await send('pull_request_review_comment', byBot);
    expect(reactions).toHaveLength(1);
    expect(await app.store.db.selectFrom('task_feedback').select(['login', 'vote']).execute()).toEqual([{ login: 'Codertocat', vote: 1 }]);
  });

  it('a comment carrying the bot\'s own marker is never read, whoever the forge says wrote it', async () => {
    await send('issue_comment', comment('<!-- doom-rlvr:command:400 -->\n/doom assign'));
    expect(reactions).toEqual([]);
    expect(await app.store.db.selectFrom('tasks').selectAll().execute()).toEqual([]);
  });
});

describe('task commands on a running task, on GitHub', () => {
  let app: TestApp;
  let github: FakeGitHub;

  onlyLocalNetwork();
  beforeEach(async () => {
    github = new FakeGitHub(REPO, INSTALLATION).install();
    github.issues.set(1, { number: 1, state: 'open', title: 'Spelling error in the README file', body: 'Two t.', labels: ['bug'] });
    nock('https://api.github.com').persist().post(/\/issues\/comments\/\d+\/reactions$/).reply(201, { id: 1, content: 'eyes' });
    app = await startTestApp({ executor: heldExecutor() });
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const send = async (payload: GitHubExample) => {
    expect((await postGitHub(app.url, 'issue_comment', payload)).status).toBeLessThan(300);
    await settled(app);
  };
  const running = (agent: string) =>
    waitFor(async () => {
      const t = await app.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'in_progress' && t.assigned_agent === agent ? t : undefined;
    }, `${agent} running the task`);
  const runs = () => app.store.db.selectFrom('assignments').select(['agent_name', 'status', 'outcome']).orderBy('id').execute();

  it('escalate stops the run and hands the task to a senior agent; the stopped agent is not counted as failing', async () => {
    await send(comment('/doom assign'));
    await running('agent-bugfix-junior');
    await send(comment('/doom escalate', { id: 502 }));
    const reply = (github.comments.get(1) ?? []).find((c) => c.body.includes('doom-rlvr:command:502 -->'))!.body;
    expect(reply).toContain('Asked the run of task #1 to stop; when it has, only senior agents or above may take the task.');
    const t = await running('agent-bugfix-senior');
    expect(t).toMatchObject({ min_tier: 'senior', escalations: 1 });
    expect(await runs()).toEqual([
      { agent_name: 'agent-bugfix-junior', status: 'failed', outcome: 'cancelled' },
      { agent_name: 'agent-bugfix-senior', status: 'in_progress', outcome: null },
    ]);
    expect((await getAgent(app.store.db, 'agent-bugfix-junior'))?.failed_tasks).toBe(0);
  });

  it('cancel stops the run; the task fails as cancelled', async () => {
    await send(comment('/doom assign'));
    await running('agent-bugfix-junior');
    await send(comment('/doom cancel', { id: 502 }));
    const t = await waitFor(async () => {
      const row = await app.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return row?.status === 'failed' ? row : undefined;
    }, 'the task to fail');
    expect(t.error_message).toMatch(/cancel/);
    expect(await runs()).toEqual([{ agent_name: 'agent-bugfix-junior', status: 'failed', outcome: 'cancelled' }]);
    const audit = await app.store.db.selectFrom('audit_log').selectAll().where('event', '=', 'run.cancel_requested').execute();
    expect(JSON.parse(audit[0]!.data)).toEqual({ why: '/doom cancel by github:Codertocat' });
  });
});
