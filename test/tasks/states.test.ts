/**
 * Task and run states through the HTTP server, with GitLab's documented payloads, signed, and
 * GitLab's API played by nock (FakeGitLab): what issue 9 found stranded or hidden.
 * - a forge error while publishing leaves the task `publishing`, and a restart finishes it (8);
 * - a suspension by a reward gives the agent's unstarted tasks back to the router (9);
 * - a cancel whose comment update failed is shown by the retried delivery or the reconcile (10);
 * - `doom:assigned` comes off when the task ends (13);
 * - the issue's state on the forge wins over a stale `labeled` or `unlabeled` (14).
 */
import { priorRewards } from '../support/record.js';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFile } from '../../src/agents/schema.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { GITLAB_TOKEN, GITLAB_URL, postGitLab, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { scriptedExecutor } from '../support/executor.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';

const ISSUE = '/api/v4/projects/1/issues/23';
const api = () => nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } });

const append = (loaded: LoadedConfig): void => {
  for (const a of loaded.agents as AgentFile[]) {
    a.runner = { kind: 'scripted', script: ['node', '-e', `require('fs').appendFileSync('README.md', '\\nFixed.\\n')`] };
  }
};

/** The labeled issue with `action` and `state` as GitLab sends them for a close or an unlabel. */
function variant(cloneUrl: string, change: 'close' | 'unlabel' | 'label', extraLabels: string[] = []) {
  const hook = labeledIssue(cloneUrl);
  const t = hook.labels[0]!;
  hook.labels = [...hook.labels, ...extraLabels.map((title, i) => ({ ...t, id: 900 + i, title }))];
  hook.object_attributes.labels = hook.labels;
  if (change === 'close') {
    hook.object_attributes = { ...hook.object_attributes, action: 'close', state: 'closed' };
    hook.changes = {};
  } else if (change === 'unlabel') {
    const without = hook.labels.filter((l: { title: string }) => l.title !== 'doom');
    hook.changes = { labels: { previous: hook.labels, current: without } };
    hook.labels = without;
    hook.object_attributes.labels = without;
  }
  return hook;
}

describe('task and run states', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-states-');
    remote = await createRemote(dir.path);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  const task = async () => (await app!.store.db.selectFrom('tasks').selectAll().orderBy('id').executeTakeFirst())!;
  const note = () => gitlab.notes.get(`${ISSUE}/notes`)?.[0]?.body ?? '';
  const issueLabels = () => gitlab.issues.get(23)!.labels;

  it('8: a forge error while publishing leaves the task publishing; a restart opens the merge request', async () => {
    // The first POST of the merge request fails (GitLab down for a moment); nothing resends it blindly.
    api().post('/api/v4/projects/1/merge_requests').reply(500, { message: '500 Internal Server Error' });
    gitlab = new FakeGitLab().install();
    app = await startTestApp({ executor: 'local', dir: dir.path, tweak: append });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await waitFor(async () => ((await task())?.status === 'publishing' ? true : undefined), 'the task to be publishing');
    await app.runs.idle();
    const stranded = await task();
    expect(stranded).toMatchObject({ status: 'publishing', pr_number: null });
    expect(stranded.head_sha).toMatch(/^[0-9a-f]{40}$/);
    // What the merge request needs is kept with the run, for whoever finishes publishing.
    const runs = await app.store.db.selectFrom('assignments').select(['status', 'changed_files']).execute();
    expect(runs).toEqual([{ status: 'completed', changed_files: '["README.md"]' }]);
    expect(issueLabels()).toContain('doom:assigned');

    await app.stop();
    app = await startTestApp({ executor: 'local', dir: dir.path, tweak: append });
    const done = await waitFor(async () => ((await task()).status === 'completed' ? task() : undefined), 'publishing to finish');
    expect(done).toMatchObject({ pr_number: 1, head_sha: stranded.head_sha });
    expect(gitlab.mergeRequests).toHaveLength(1);
    expect(gitlab.mergeRequests[0]!.description).toContain('- `README.md`');
    // 13: the task ended, so the label came off; the one note shows it completed.
    await waitFor(async () => !issueLabels().includes('doom:assigned'), 'the assigned label to come off');
    expect(note()).toContain('**completed**');
    const events = await app.store.db.selectFrom('audit_log').select('event').orderBy('id').execute();
    expect(events.map((e) => e.event).filter((e) => e.startsWith('mr.') || e.startsWith('run.'))).toEqual([
      'run.started',
      'run.completed',
      'mr.publish_failed',
      'mr.opened',
    ]);
  });

  it('9: a suspension by a reward gives the agent\'s unstarted tasks back to the router', async () => {
    gitlab = new FakeGitLab().install();
    const executor = scriptedExecutor();
    app = await startTestApp({ executor });
    // P1, forced onto the senior bugfix agent with an `agent:` label; it publishes.
    const first = gitlab.issueFrom(variant(`file://${remote.bare}`, 'label', ['P1', 'agent:agent-bugfix-senior']));
    await postGitLab(app.url, 'Issue Hook', first);
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the first task');
    await app.runs.idle();
    expect(done.assigned_agent).toBe('agent-bugfix-senior');

    // The executor is full now: the next task for that agent waits, assigned but not started.
    executor.capacity = 0;
    const second = variant(`file://${remote.bare}`, 'label', ['P1', 'agent:agent-bugfix-senior']);
    second.object_attributes = { ...second.object_attributes, iid: 24, id: 302, title: 'Another one' };
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(second));
    await settled(app);
    const waiting = () => app!.store.db.selectFrom('tasks').selectAll().where('issue_number', '=', 24).executeTakeFirstOrThrow();
    expect(await waiting()).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-senior' });

    // Four bad rewards already on the senior's record: rewards suspend no one on fewer than five.
    await priorRewards(app.store.db, 'agent-bugfix-senior', done.id, [-3, -3, -3, -3]);

    // The merge request is closed unmerged with changes requested, its pipeline failed: a
    // negative final reward, the fifth, and the senior is suspended by it.
    const mr = gitlab.mergeRequests[0]!;
    mr.sha = done.head_sha;
    // Coverage fell from 80 to 70 against main's newest successful pipeline.
    gitlab.pipelines.push(
      { id: 100, sha: 'b'.repeat(40), ref: 'main', status: 'success', coverage: '80', jobs: [] },
      { id: 200, sha: done.head_sha!, ref: 'refs/merge-requests/1/head', status: 'failed', coverage: '70', jobs: [] },
    );
    mr.state = 'closed';
    mr.reviewers.push({ user: { id: 7, username: 'alice' }, state: 'requested_changes' });
    gitlab.members.set('alice', { id: 7, username: 'alice', access_level: 30 });
    const close = gitlabFixture('merge-request-hook.json');
    close.project = first.project;
    close.object_attributes = { ...close.object_attributes, iid: mr.iid, action: 'close', state: 'closed', source_branch: mr.source_branch, target_branch: 'main' };
    // The pipeline first: a close settles the reward, and what comes after it is evidence only.
    const pipeline = gitlabFixture('pipeline-hook.json');
    pipeline.project = first.project;
    pipeline.object_attributes = { ...pipeline.object_attributes, id: 200, iid: 200, sha: done.head_sha, status: 'failed', coverage: '70', ref: 'refs/merge-requests/1/head' };
    await postGitLab(app.url, 'Pipeline Hook', pipeline);
    await settled(app);
    await postGitLab(app.url, 'Merge Request Hook', close);
    await settled(app);
    const senior = await app.store.db.selectFrom('agents').selectAll().where('name', '=', 'agent-bugfix-senior').executeTakeFirstOrThrow();
    expect(senior.tier).toBe('suspended');

    // tier.changed released the waiting task; the router cannot give it to a suspended agent.
    const released = await waiting();
    expect(released).toMatchObject({ status: 'pending', assigned_agent: null });
    expect(released.pending_reason).toContain('agent-bugfix-senior');
    const held = await app.store.db.selectFrom('assignments').select(['agent_name', 'status']).where('task_id', '=', released.id).orderBy('id').execute();
    expect(held).toEqual([{ agent_name: 'agent-bugfix-senior', status: 'cancelled' }]);
    // Room again: still nothing runs for a suspended agent.
    executor.capacity = 2;
    app.runs.kick();
    await app.runs.idle();
    expect(executor.requests.map((r) => [r.task.id, r.agent.tier])).toEqual([[done.id, 'senior']]);
  });

  it('10: a cancel whose comment update failed is shown by the retried delivery', async () => {
    gitlab = new FakeGitLab().install();
    app = await startTestApp();
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await settled(app);
    expect(note()).toContain('**assigned**');
    expect(issueLabels()).toContain('doom:assigned');

    // Every try of the first attempt's note update fails (the client retries a PUT 3 times).
    nock.cleanAll();
    api().put(/\/notes\/\d+$/).times(4).reply(500, { message: '500 Internal Server Error' });
    gitlab.install();
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(variant(`file://${remote.bare}`, 'close')));
    await settled(app);
    expect(await task()).toMatchObject({ status: 'failed', error_message: 'cancelled: the issue was closed' });
    expect(note()).toContain('**failed**');
    expect(note()).toContain('cancelled: the issue was closed');
    expect(issueLabels()).not.toContain('doom:assigned');
    const delivery = await app.store.db.selectFrom('webhook_deliveries').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(delivery).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('10: a cancel whose delivery gave up is shown by the reconcile', async () => {
    gitlab = new FakeGitLab().install();
    app = await startTestApp({ tweak: (l) => (l.config.inbox.max_attempts = 1) });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await settled(app);
    nock.cleanAll();
    api().put(/\/notes\/\d+$/).times(4).reply(500, { message: '500 Internal Server Error' });
    gitlab.install();
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(variant(`file://${remote.bare}`, 'close')));
    await settled(app);
    expect((await app.store.db.selectFrom('webhook_deliveries').select('status').orderBy('id').execute()).map((d) => d.status)).toEqual(['done', 'failed']);
    expect(note()).toContain('**assigned**');

    expect(await app.tasks.reconcileIssues()).toBe(1);
    expect(note()).toContain('cancelled: the issue was closed');
    expect(issueLabels()).not.toContain('doom:assigned');
    // In line now: the next pass calls nothing.
    const calls = gitlab.calls.length;
    expect(await app.tasks.reconcileIssues()).toBe(0);
    expect(gitlab.calls.length).toBe(calls);
  });

  it('13: doom:assigned comes off when a task fails', async () => {
    gitlab = new FakeGitLab().install();
    app = await startTestApp({
      executor: 'local',
      tweak: (l) => {
        for (const a of l.agents as AgentFile[]) a.runner = { kind: 'scripted', script: ['node', '-e', 'process.exit(3)'] };
      },
    });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await waitFor(async () => ((await task())?.status === 'failed' ? true : undefined), 'the task to fail');
    await app.runs.idle();
    await waitFor(async () => !issueLabels().includes('doom:assigned'), 'the assigned label to come off');
    const edits = gitlab.made('PUT', /issues\/23$/).map((c) => c.body);
    expect(edits.at(-1)).toEqual({ remove_labels: 'doom:assigned' });
    expect(edits.slice(0, -1).every((b) => b.add_labels === 'doom:assigned')).toBe(true);
  });

  it('14: a stale labeled after the close creates nothing; a stale unlabeled after a relabel cancels nothing', async () => {
    gitlab = new FakeGitLab().install();
    app = await startTestApp();
    const labeled = labeledIssue(`file://${remote.bare}`);
    // The issue was labeled and then closed; the close is delivered first, the label after.
    gitlab.issueFrom(variant(`file://${remote.bare}`, 'close'));
    await postGitLab(app.url, 'Issue Hook', variant(`file://${remote.bare}`, 'close'));
    await postGitLab(app.url, 'Issue Hook', labeled);
    await settled(app);
    expect(await app.store.db.selectFrom('tasks').selectAll().execute()).toEqual([]);
    expect(gitlab.made('POST', /notes$/)).toEqual([]);

    // Reopened and labeled: a task. An `unlabeled` from before the relabel arrives late.
    const reopened = gitlab.issueFrom(labeledIssue(`file://${remote.bare}`));
    await postGitLab(app.url, 'Issue Hook', reopened);
    await settled(app);
    expect(await task()).toMatchObject({ status: 'assigned' });
    await postGitLab(app.url, 'Issue Hook', variant(`file://${remote.bare}`, 'unlabel'));
    await settled(app);
    expect(await task()).toMatchObject({ status: 'assigned', error_message: null });
    expect(note()).toContain('**assigned**');
  });
});

