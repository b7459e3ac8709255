/**
 * From a labeled issue to a merge request, end to end: the real server, a real bare git
 * repository on disk as the remote, the scripted runner making a real change, the local
 * executor, and GitLab's API played by nock.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFile } from '../../src/agents/schema.js';
import type { RunnerConfig } from '../../src/runners/config.js';
import { git } from '../../src/workspace/git.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { postGitLab, settled as settledInbox, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { labeledIssue, madeLater } from '../helpers/issues.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const append = (text: string): RunnerConfig => ({
  kind: 'scripted',
  script: ['node', '-e', `require('fs').appendFileSync('README.md', ${JSON.stringify(text)})`],
});
const sleepFor = (ms: number): RunnerConfig => ({ kind: 'scripted', script: ['node', '-e', `setTimeout(() => {}, ${ms})`] });

/** Writes `file` at once, then sleeps until the run's timeout stops it. */
const writeThenSleep = (file: string, text: string): RunnerConfig => ({
  kind: 'scripted',
  script: ['node', '-e', `require('fs').writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(text)}); setTimeout(() => {}, 60000)`],
});
/**
 * Prints what it finds in `file` and the prompt's line about earlier work (the transcript keeps
 * its output), then appends `text` to the file.
 */
const continueWork = (file: string, text: string): RunnerConfig => ({
  kind: 'scripted',
  script: [
    'node',
    '-e',
    `const fs = require('fs'); const f = ${JSON.stringify(file)};
     const prompt = fs.readFileSync(0, 'utf8');
     console.log('found: ' + (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : 'nothing'));
     console.log('prompt: ' + (prompt.split('\\n').find((l) => l.startsWith('A previous agent')) ?? 'no earlier work'));
     fs.appendFileSync(f, ${JSON.stringify(text)});`,
  ],
});

function withRunners(runners: (agent: AgentFile) => RunnerConfig) {
  return (loaded: { agents: AgentFile[]; config: { coordinator: { max_concurrent_agents: number } } }) => {
    for (const a of loaded.agents) a.runner = runners(a);
    loaded.config.coordinator.max_concurrent_agents = 2;
  };
}

describe('runs: issue to merge request', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-runs-');
    remote = await createRemote(dir.path);
    gitlab = new FakeGitLab().install();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  const task = async () => (await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst())!;
  const runsOf = async () =>
    app!.store.db.selectFrom('assignments').select(['agent_name', 'status', 'outcome', 'input_tokens', 'cost_usd']).orderBy('id').execute();

  it('runs the agent in a worktree, pushes the branch and opens one merge request; a rerun updates it', async () => {
    app = await startTestApp({ executor: 'local', tweak: withRunners(() => append('\nFixed by the agent.\n')) });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the task to complete');
    await app.runs.idle();

    expect(done).toMatchObject({ assigned_agent: 'agent-bugfix-junior', pr_number: 1, branch: `doom/${done.id}-fix-the-greeting` });
    expect(done.tokens_used).toBe(1500);
    // The branch on the remote holds the agent's change, committed by the bot.
    expect(await git(['--git-dir', remote.bare, 'show', `${done.branch}:README.md`])).toBe('# hello\n\nFixed by the agent.');
    const log = await git(['--git-dir', remote.bare, 'log', '-1', '--format=%an <%ae>%n%B', done.branch!]);
    expect(log).toContain('doom-rlvr[bot] <doom-rlvr@users.noreply.github.com>');
    expect(log).toContain(`Doom-Task: ${done.id}`);
    expect(log).toContain('Doom-Agent: agent-bugfix-junior');
    expect(done.head_sha).toBe(await git(['--git-dir', remote.bare, 'rev-parse', done.branch!]));

    const [opened, ...more] = gitlab.made('POST', /merge_requests$/);
    expect(more).toEqual([]);
    expect(opened!.body).toMatchObject({
      source_branch: done.branch,
      target_branch: 'main',
      title: 'Fix the greeting',
      labels: 'doom:bot-authored',
    });
    const description = String(opened!.body.description);
    expect(description).toContain('Closes #23');
    expect(description).toContain('`agent-bugfix-junior` (junior)');
    expect(description).toContain('1,200 in, 300 out');
    expect(description).toContain('$0.0081');
    expect(description).toContain('- `README.md`');
    // The issue's one sticky note went from assigned to running to completed, edited in place.
    expect(gitlab.made('POST', /issues\/23\/notes$/)).toHaveLength(1);
    const note = gitlab.notes.get('/api/v4/projects/1/issues/23/notes')![0]!;
    expect(note.body).toContain('**completed**');
    expect(note.body).toContain(gitlab.mergeRequests[0]!.web_url);
    expect(await runsOf()).toEqual([{ agent_name: 'agent-bugfix-junior', status: 'completed', outcome: 'success', input_tokens: 1200, cost_usd: 0.0081 }]);

    // The maintainer asks for another attempt while the MR is open (the forge says so, with the
    // head the bot pushed): same branch, the same MR updated, no second one.
    gitlab.mergeRequests[0]!.sha = done.head_sha;
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(madeLater(labeledIssue(`file://${remote.bare}`))));
    await waitFor(async () => (await runsOf()).length === 2 && (await task()).status === 'completed', 'the second run');
    await app.runs.idle();
    expect(gitlab.made('POST', /merge_requests$/)).toHaveLength(1);
    expect(gitlab.made('PUT', /merge_requests\/1$/)).toHaveLength(1);
    expect(gitlab.mergeRequests).toHaveLength(1);
    // The retry started again from main: one bot commit on top of it, not two.
    expect(await git(['--git-dir', remote.bare, 'rev-list', '--count', `main..${done.branch}`])).toBe('1');
    const events = await app.store.db.selectFrom('audit_log').select('event').orderBy('id').execute();
    expect(events.map((e) => e.event).filter((e) => e.startsWith('mr.'))).toEqual(['mr.opened', 'mr.updated']);
  });

  it('adds the review app URL to the merge request when its deployment succeeds', async () => {
    app = await startTestApp({ executor: 'local', tweak: withRunners(() => append('\nFixed.\n')) });
    const issue = labeledIssue(`file://${remote.bare}`);
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(issue));
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the task to complete');
    await app.runs.idle();

    // GitLab's Deployment Hook example, for the review environment of the bot's branch.
    const deployment = gitlabFixture('deployment-hook.json');
    const slug = done.branch!.replace(/[^0-9a-z]/g, '-');
    Object.assign(deployment, {
      project: issue.project,
      environment: `review/${slug}`,
      environment_slug: `review-${slug}`,
      environment_external_url: `https://${slug}.review.example.com`,
      commit_url: `${issue.project.web_url}/-/commit/${done.head_sha}`,
      short_sha: done.head_sha!.slice(0, 8),
    });
    for (let i = 0; i < 2; i++) await postGitLab(app.url, 'Deployment Hook', deployment);
    await waitFor(async () => ((await task()).review_app_url ? true : undefined), 'the review app URL');
    await settledInbox(app);
    expect((await task()).review_app_url).toBe(`https://${slug}.review.example.com`);
    expect(gitlab.mergeRequests[0]!.description).toContain(`**Review app:** https://${slug}.review.example.com`);
    expect(gitlab.mergeRequests[0]!.description).toContain('Closes #23');
    // The redelivery found the URL already there: one edit only.
    expect(gitlab.made('PUT', /merge_requests\/1$/)).toHaveLength(1);
  });

  it('escalates a timed-out task to the next tier up, keeping the failed run', async () => {
    app = await startTestApp({
      executor: 'local',
      tweak: withRunners((a) => (a.tier === 'junior' ? sleepFor(60_000) : append('\nFixed by a senior.\n'))),
    });
    const body = 'Slow one.\n\n```yaml\ntask:\n  constraints:\n    timeout_ms: 5000\n```\n';
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`, body)));
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the escalated task');
    await app.runs.idle();
    expect(done).toMatchObject({ assigned_agent: 'agent-bugfix-senior', escalations: 1, min_tier: 'senior', timeout_ms: 5000 });
    expect((await runsOf()).map((r) => [r.agent_name, r.status, r.outcome])).toEqual([
      ['agent-bugfix-junior', 'failed', 'timeout'],
      ['agent-bugfix-senior', 'completed', 'success'],
    ]);
    const escalated = await app.store.db.selectFrom('audit_log').select('data').where('event', '=', 'task.escalated').execute();
    expect(JSON.parse(escalated[0]!.data)).toMatchObject({ outcome: 'timeout', to: 'senior' });
    const junior = await app.store.db.selectFrom('agents').selectAll().where('name', '=', 'agent-bugfix-junior').executeTakeFirstOrThrow();
    expect(junior.failed_tasks).toBe(1);
  });

  it('keeps the timed-out agent\'s work on the branch; the escalated agent continues from it and the MR holds both commits', async () => {
    app = await startTestApp({
      executor: 'local',
      tweak: withRunners((a) => (a.tier === 'junior' ? writeThenSleep('wip.txt', 'junior was here\n') : continueWork('wip.txt', 'senior finished\n'))),
    });
    const body = 'Slow one.\n\n```yaml\ntask:\n  constraints:\n    timeout_ms: 6000\n```\n';
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`, body)));
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the escalated task', 60_000);
    await app.runs.idle();

    const runs = await app.store.db.selectFrom('assignments').select(['agent_name', 'outcome', 'transcript']).orderBy('id').execute();
    expect(runs.map((r) => [r.agent_name, r.outcome])).toEqual([
      ['agent-bugfix-junior', 'timeout'],
      ['agent-bugfix-senior', 'success'],
    ]);
    // The senior's script saw the junior's file in its worktree and the trusted line in its prompt.
    expect(runs[1]!.transcript).toContain('found: junior was here');
    expect(runs[1]!.transcript).toContain('prompt: A previous agent ran out of time on this task; its work so far is committed on this branch');

    // The branch: the bot's commit of the junior's work, then the final commit on top (no rewrite).
    const log = await git(['--git-dir', remote.bare, 'log', '--reverse', '--format=%an|%s|%(trailers:key=Doom-Agent,valueonly,separator=)', `main..${done.branch}`]);
    expect(log.split('\n')).toEqual([
      `doom-rlvr[bot]|doom: work in progress, Fix the greeting (task ${done.id})|agent-bugfix-junior`,
      `doom-rlvr[bot]|doom: Fix the greeting (task ${done.id})|agent-bugfix-senior`,
    ]);
    expect(await git(['--git-dir', remote.bare, 'show', `${done.branch}:wip.txt`])).toBe('junior was here\nsenior finished');
    expect(done).toMatchObject({ head_sha: await git(['--git-dir', remote.bare, 'rev-parse', done.branch!]), kept_sha: null, kept_outcome: null });
    const [opened, ...more] = gitlab.made('POST', /merge_requests$/);
    expect(more).toEqual([]);
    expect(String(opened!.body.description)).toContain('- `wip.txt`');
    const escalated = await app.store.db.selectFrom('audit_log').select('data').where('event', '=', 'task.escalated').executeTakeFirstOrThrow();
    expect(JSON.parse(escalated.data)).toMatchObject({ outcome: 'timeout', kept: await git(['--git-dir', remote.bare, 'rev-parse', `${done.branch}~1`]) });
  });

  it('keeps the work of each agent that runs out of tokens, one commit on top of the other, and opens no MR', async () => {
    app = await startTestApp({ executor: 'local', tweak: withRunners((a) => continueWork('notes.txt', `${a.tier}\n`)) });
    const body = '```yaml\ntask:\n  constraints:\n    max_tokens: 1000\n```\n';
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`, body)));
    await waitFor(async () => ((await task())?.status === 'failed' ? true : undefined), 'the task to fail');
    await app.runs.idle();
    const failed = await task();
    const runs = await app.store.db.selectFrom('assignments').select(['agent_name', 'outcome', 'transcript']).orderBy('id').execute();
    expect(runs.map((r) => [r.agent_name, r.outcome])).toEqual([
      ['agent-bugfix-junior', 'token_limit'],
      ['agent-principal', 'token_limit'],
    ]);
    expect(runs[0]!.transcript).toContain('found: nothing');
    expect(runs[1]!.transcript).toContain('found: junior');
    expect(runs[1]!.transcript).toContain('prompt: A previous agent ran out of tokens on this task');
    expect(await git(['--git-dir', remote.bare, 'show', `${failed.branch}:notes.txt`])).toBe('junior\nprincipal');
    expect(await git(['--git-dir', remote.bare, 'log', '--format=%(trailers:key=Doom-Stopped,valueonly,separator=)', `main..${failed.branch}`])).toBe('token_limit\ntoken_limit');
    expect(gitlab.made('POST', /merge_requests$/)).toEqual([]);
    expect(failed).toMatchObject({ kept_sha: null, head_sha: null });
  });

  it('escalates a run over its token budget straight to a principal', async () => {
    app = await startTestApp({ executor: 'local', tweak: withRunners(() => append('\nx\n')) });
    // The scripted runner reports 1,500 tokens: over a budget of 1,000 for every agent.
    const body = '```yaml\ntask:\n  constraints:\n    max_tokens: 1000\n```\n';
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`, body)));
    await waitFor(async () => ((await task())?.status === 'failed' ? true : undefined), 'the task to fail');
    await app.runs.idle();
    const runs = await runsOf();
    expect(runs.map((r) => [r.agent_name, r.outcome])).toEqual([
      ['agent-bugfix-junior', 'token_limit'],
      ['agent-principal', 'token_limit'],
    ]);
    const failed = await task();
    expect(failed.error_message).toContain('no tier is above principal');
    expect(gitlab.made('POST', /merge_requests$/)).toEqual([]);
    expect(gitlab.notes.get('/api/v4/projects/1/issues/23/notes')![0]!.body).toContain('Failed: the agent ran out of tokens');
  });

  it('fails a task whose agent fails: a short reason on the issue, the error in the log', async () => {
    app = await startTestApp({
      executor: 'local',
      tweak: withRunners(() => ({ kind: 'scripted', script: ['node', '-e', 'console.error("cannot reproduce"); process.exit(3)'] })),
    });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await waitFor(async () => ((await task())?.status === 'failed' ? true : undefined), 'the task to fail');
    await app.runs.idle();
    const failed = await task();
    expect(failed.error_message).toBe('the agent failed');
    const note = gitlab.notes.get('/api/v4/projects/1/issues/23/notes')![0]!.body;
    expect(note).toContain('Failed: the agent failed.');
    expect(note).toContain(`\`doom logs --task ${failed.id}\``);
    expect(note).not.toContain('cannot reproduce');
    expect(note).not.toContain(dir.path);
    // The details stay with the run and in the audit log.
    const [run] = await app.store.db.selectFrom('assignments').select('error').execute();
    expect(run!.error).toContain('exited with 3');
    expect(run!.error).toContain('cannot reproduce');
    const [entry] = await app.store.db.selectFrom('audit_log').select('data').where('event', '=', 'task.failed').execute();
    expect(JSON.parse(entry!.data)).toMatchObject({ outcome: 'failed', stage: 'agent', reason: 'the agent failed' });
  });

  it('cancels a running task when its issue is closed', async () => {
    app = await startTestApp({ executor: 'local', tweak: withRunners(() => sleepFor(60_000)) });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await waitFor(async () => ((await task())?.status === 'in_progress' ? true : undefined), 'the run to start');
    const closed = labeledIssue(`file://${remote.bare}`);
    closed.object_attributes = { ...closed.object_attributes, action: 'close', state: 'closed' };
    closed.changes = {};
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(closed));
    await waitFor(async () => ((await task())?.status === 'failed' ? true : undefined), 'the cancellation');
    await app.runs.idle();
    expect((await task()).error_message).toBe('cancelled by an operator');
    expect((await runsOf()).map((r) => r.outcome)).toEqual(['cancelled']);
  });

  it('re-queues a run interrupted by a stop and finishes it after the restart', async () => {
    app = await startTestApp({ executor: 'local', dir: dir.path, tweak: withRunners(() => sleepFor(60_000)) });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await waitFor(async () => ((await task())?.status === 'in_progress' ? true : undefined), 'the run to start');
    await app.close();

    app = await startTestApp({ executor: 'local', dir: dir.path, tweak: withRunners(() => append('\nafter restart\n')) });
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the re-queued run');
    await app.runs.idle();
    expect(done.assigned_agent).toBe('agent-bugfix-junior');
    expect((await runsOf()).map((r) => [r.status, r.outcome])).toEqual([
      ['failed', 'interrupted'],
      ['completed', 'success'],
    ]);
    expect(gitlab.mergeRequests).toHaveLength(1);
  });
});
