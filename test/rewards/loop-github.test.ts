/**
 * The whole RLVR loop on GitHub with signed payloads from @octokit/webhooks-examples: an
 * issue becomes a pull request (scripted agent, real git), its workflow run (with artifacts),
 * an approval and the merge become a final reward that promotes the agent.
 */
import { oneRewardTiers } from '../support/record.js';
import nock from 'nock';
import { githubExample } from '../helpers/fixtures.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postGitHub, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { madeLater } from '../helpers/issues.js';
import { buildZip } from '../forges/github/zip-writer.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { getAgent } from '../../src/store/agents.js';
import { rewardsOf } from '../../src/store/rewards.js';
import { promoteAgent } from '../../src/tiers/service.js';

type Payload = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data
const INSTALLATION = 4242;

const example = githubExample;

describe('the RLVR loop on GitHub', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let github: FakeGitHub;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-ghloop-');
    remote = await createRemote(dir.path);
    github = new FakeGitHub('Codertocat/Hello-World', INSTALLATION).install();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  it('workflow run, approval and merge give a final reward that promotes the agent', async () => {
    app = await startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        oneRewardTiers(loaded);
        for (const a of loaded.agents) a.runner = { kind: 'scripted', script: ['node', '-e', "require('fs').appendFileSync('README.md', 'fixed\\n')"] };
      },
    });
    // The published issues.labeled example, as an App installation receives it, labeled `doom`,
    // its repository cloned from a bare repository on disk.
    const labeled = example('issues', (e) => e.action === 'labeled');
    labeled.issue.labels.push({ ...labeled.label, id: 9001, name: 'doom' });
    labeled.label = { ...labeled.label, name: 'doom' };
    labeled.installation = { id: INSTALLATION };
    labeled.repository = { ...labeled.repository, clone_url: `file://${remote.bare}`, default_branch: 'main' };
    await postGitHub(app.url, 'issues', github.issueFrom(labeled));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' ? t : undefined;
    }, 'the pull request');
    await app.runs.idle();
    expect(task).toMatchObject({ pr_number: 2, pr_url: 'https://github.com/Codertocat/Hello-World/pull/2' });
    const pull = github.pulls[0]!;
    expect(pull.labels).toEqual(['doom:bot-authored']);
    expect(pull.body).toContain('Closes #1');
    pull.head.sha = task.head_sha!;

    // The workflow run for the PR's head commit, with its reports as artifacts.
    const run = example('workflow_run', (e) => e.action === 'completed' && e.workflow_run.conclusion === 'success' && e.workflow_run.pull_requests.length > 0);
    Object.assign(run.workflow_run, { id: 555, head_sha: task.head_sha, head_branch: task.branch });
    run.workflow_run.pull_requests[0].number = 2;
    run.repository = labeled.repository;
    run.installation = { id: INSTALLATION };
    github.artifacts.set(
      555,
      new Map([
        ['coverage', buildZip([{ name: 'lcov.info', data: 'TN:\nSF:src/index.ts\nDA:1,1\nLF:10\nLH:9\nend_of_record\n' }])],
        ['lint', buildZip([{ name: 'eslint-report.json', data: '[]' }])],
        ['sast', buildZip([{ name: 'results.sarif', data: JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'semgrep' } }, results: [] }] }) }])],
      ]),
    );
    await postGitHub(app.url, 'workflow_run', run);
    await settled(app);
    const provisional = await app.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();
    expect(provisional.kind).toBe('provisional');
    // No successful run on main to compare coverage with: that component alone is a default.
    expect(provisional.degraded).toBe(1);
    expect(JSON.parse(provisional.components)).toMatchObject({ ci_pipeline_status: 1, lint_score: 1, security_scan_score: 1, test_coverage_delta: 0 });

    // A maintainer approves; a read-only user's approval and a bot's 👍 do not count.
    github.permissions.set('octocat', 'write').set('reader', 'read');
    github.reviews.set(2, [
      { id: 1, user: { login: 'reader', id: 5, type: 'User' }, state: 'APPROVED', submitted_at: '2026-11-21T10:00:00Z', commit_id: task.head_sha! },
      { id: 2, user: { login: 'octocat', id: 583231, type: 'User' }, state: 'APPROVED', submitted_at: '2026-11-21T10:05:00Z', commit_id: task.head_sha! },
    ]);
    github.reactions.set(2, [{ id: 1, user: { login: 'dependabot[bot]', id: 49699333, type: 'Bot' }, content: '+1' }]);
    const review = example('pull_request_review', (e) => e.action === 'submitted');
    review.pull_request.number = 2;
    review.review = { ...review.review, state: 'approved', user: { ...review.review.user, login: 'octocat' } };
    review.repository = labeled.repository;
    review.installation = { id: INSTALLATION };
    await postGitHub(app.url, 'pull_request_review', review);
    await settled(app);
    expect(JSON.parse((await app.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow()).components).review_feedback_score).toBe(0.3);

    // Merged.
    Object.assign(pull, { state: 'closed', merged_at: '2026-11-21T11:00:00Z' });
    const closed = example('pull_request', (e) => e.action === 'closed');
    closed.number = 2;
    Object.assign(closed.pull_request, { number: 2, merged: true, merged_at: pull.merged_at, state: 'closed' });
    closed.pull_request.head = { ...closed.pull_request.head, ref: task.branch, sha: task.head_sha };
    closed.repository = labeled.repository;
    closed.installation = { id: INSTALLATION };
    const delivery = crypto.randomUUID();
    await postGitHub(app.url, 'pull_request', closed, { delivery });
    await postGitHub(app.url, 'pull_request', closed, { delivery });
    await settled(app);

    const final = await app.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();
    expect(final.kind).toBe('final');
    expect(JSON.parse(final.components).review_feedback_score).toBe(0.7);
    // Scores: coverage 0 (its default: only README.md changed, and no run on main to compare
    // project coverage with), lint +1, security +1, complexity +1 (no code file changed), CI +1,
    // review 0.7: 5 × (0 + 0.2 + 0.2 + 0.1 + 0.1 + 0.07) = 3.35 (2.85 on the seed's plain sum).
    expect(final.reward).toBe(3.35);
    const agent = await app.store.db.selectFrom('agents').selectAll().where('name', '=', 'agent-bugfix-junior').executeTakeFirstOrThrow();
    expect(agent).toMatchObject({ tier: 'senior', rolling_avg: 3.35 });
    const report = github.comments.get(2)!;
    expect(report).toHaveLength(1);
    expect(report[0]!.body).toContain('### doom-rlvr reward: +3.35 (final)');
    expect(report[0]!.body).toContain('**Tier change:** junior → senior');
    // Nothing secret in anything the bot wrote.
    expect(JSON.stringify(github.calls)).not.toContain('ghs_');

    // What Prometheus scrapes after the loop: every seed name, with its labels.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    for (const line of [
      'doom_tasks_total{status="completed"} 1',
      'doom_tasks_total{status="failed"} 0',
      'doom_tasks_total{status="timeout"} 0',
      'doom_task_duration_seconds_count{agent="agent-bugfix-junior"} 1',
      'doom_agent_reward{agent="agent-bugfix-junior",component="total"} 3.35',
      'doom_agent_reward{agent="agent-bugfix-junior",component="review_feedback_score"} 0.7',
      'doom_agent_reward{agent="agent-bugfix-junior",component="ci_pipeline_status"} 1',
      'doom_agent_tier{agent="agent-bugfix-junior",tier="senior"} 1',
      'doom_coordinator_queue_length 0',
      'doom_evaluator_duration_seconds_count 1',
      'doom_hooks_failed_total{hook="evaluator"} 0',
      'doom_tasks{status="completed"} 1',
    ]) {
      expect(metrics.split('\n')).toContain(line);
    }
    expect(metrics).toMatch(/^doom_task_duration_seconds_bucket\{le="\+Inf",agent="agent-bugfix-junior"\} 1$/m);
    expect(metrics).toMatch(/^doom_tokens_used\{agent="agent-bugfix-junior"\} \d+$/m);
    expect(metrics).toMatch(/^# TYPE doom_task_duration_seconds histogram$/m);
    expect(metrics).toMatch(/^# TYPE doom_tasks_total counter$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  /** The published issues.labeled example, labeled `doom`, its repository a bare one on disk. */
  function labeledPayload(): Payload {
    const labeled = example('issues', (e) => e.action === 'labeled');
    labeled.issue.labels.push({ ...labeled.label, id: 9001, name: 'doom' });
    labeled.label = { ...labeled.label, name: 'doom' };
    labeled.installation = { id: INSTALLATION };
    labeled.repository = { ...labeled.repository, clone_url: `file://${remote.bare}`, default_branch: 'main' };
    return labeled;
  }

  function closedPayload(labeled: Payload, pull: { number: number; merged_at: string | null; head: { ref: string; sha: string } }): Payload {
    const closed = example('pull_request', (e) => e.action === 'closed');
    closed.number = pull.number;
    Object.assign(closed.pull_request, { number: pull.number, merged: pull.merged_at !== null, merged_at: pull.merged_at, state: 'closed' });
    closed.pull_request.head = { ...closed.pull_request.head, ref: pull.head.ref, sha: pull.head.sha };
    closed.repository = labeled.repository;
    closed.installation = { id: INSTALLATION };
    return closed;
  }

  async function startWithPull(): Promise<{ labeled: Payload; task: { id: number; head_sha: string | null; branch: string | null } }> {
    app = await startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        oneRewardTiers(loaded);
        for (const a of loaded.agents) a.runner = { kind: 'scripted', script: ['node', '-e', "require('fs').appendFileSync('README.md', 'fixed\\n')"] };
      },
    });
    const labeled = labeledPayload();
    await postGitHub(app.url, 'issues', github.issueFrom(labeled));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' ? t : undefined;
    }, 'the pull request');
    await app.runs.idle();
    github.pulls[0]!.head.sha = task.head_sha!;
    return { labeled, task };
  }

  it('a new-id copy of an old merge event writes nothing and does not undo a manual promotion', async () => {
    const { labeled } = await startWithPull();
    const pull = github.pulls[0]!;
    Object.assign(pull, { state: 'closed', merged_at: '2026-11-21T11:00:00Z' });
    const merge = closedPayload(labeled, pull);
    await postGitHub(app!.url, 'pull_request', merge);
    await settled(app!);
    const final = await app!.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();
    expect(final).toMatchObject({ kind: 'final', mr_state: 'merged' });
    expect(final.settled_at).not.toBeNull();

    const promoted = await promoteAgent(app!.store.db, 'agent-bugfix-junior', { to: 'principal', actor: 'alice' });
    const scores = () => rewardsOf(app!.store.db, 'agent-bugfix-junior', 10);
    const before = { scores: await scores(), comments: github.calls.filter((c) => c.method !== 'GET').length };
    const audits = async () => (await app!.store.db.selectFrom('audit_log').select('event').execute()).length;
    const auditCount = await audits();

    // The same merge event again under a new delivery id (GitHub's "redeliver" gives one).
    await postGitHub(app!.url, 'pull_request', merge);
    await settled(app!);
    expect(await app!.store.db.selectFrom('rewards').selectAll().execute()).toEqual([final]);
    expect(await scores()).toEqual(before.scores);
    expect(await getAgent(app!.store.db, 'agent-bugfix-junior')).toMatchObject({ tier: 'principal', manual_override: promoted.manual_override });
    expect(github.calls.filter((c) => c.method !== 'GET')).toHaveLength(before.comments);
    expect(await audits()).toBe(auditCount);
  });

  it('a merge delivered before any CI event settles on the head commit\'s runs as GitHub lists them', async () => {
    const { labeled, task } = await startWithPull();
    // CI finished, but none of its webhooks arrived: a workflow run with its reports, another
    // App's failing check suite, a commit status. GitHub lists them all for the head commit.
    github.workflowRuns.push({ id: 777, head_sha: task.head_sha!, head_branch: task.branch!, event: 'pull_request', conclusion: 'success', pull_requests: [{ number: 2 }] });
    github.artifacts.set(777, new Map([['lint', buildZip([{ name: 'eslint-report.json', data: '[]' }])]]));
    github.checkSuites.push({ id: 31, head_sha: task.head_sha!, head_branch: task.branch!, conclusion: 'success', app: { id: 254, slug: 'codecov' } });
    github.statuses.push({ id: 41, sha: task.head_sha!, state: 'success', context: 'ci/circleci', target_url: null });
    const pull = github.pulls[0]!;
    Object.assign(pull, { state: 'closed', merged_at: '2026-11-21T11:00:00Z' });
    await postGitHub(app!.url, 'pull_request', closedPayload(labeled, pull));
    await settled(app!);
    const final = await app!.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();
    expect(final).toMatchObject({ kind: 'final', mr_state: 'merged' });
    expect(JSON.parse(final.components)).toMatchObject({ ci_pipeline_status: 1, lint_score: 1 });
    expect(github.made('GET', /\/commits\/[0-9a-f]+\/check-suites$/)).toHaveLength(1);

    // The run's own webhook, arriving after the merge, changes nothing.
    const run = example('workflow_run', (e) => e.action === 'completed' && e.workflow_run.conclusion === 'success' && e.workflow_run.pull_requests.length > 0);
    Object.assign(run.workflow_run, { id: 777, head_sha: task.head_sha, head_branch: task.branch });
    run.workflow_run.pull_requests[0].number = 2;
    run.repository = labeled.repository;
    run.installation = { id: INSTALLATION };
    await postGitHub(app!.url, 'workflow_run', run);
    await settled(app!);
    expect(await app!.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow()).toEqual(final);
  });

  it('a redelivered copy of the labeling after the task finished starts nothing', async () => {
    const { labeled } = await startWithPull();
    await postGitHub(app!.url, 'issues', github.issueFrom(labeled));
    await settled(app!);
    await app!.runs.idle();
    expect(await app!.store.db.selectFrom('assignments').selectAll().execute()).toHaveLength(1);
    expect((await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow()).status).toBe('completed');
    expect(github.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pulls'))).toHaveLength(1);
  });

  it('a relabel while the pull request is open updates the same pull request in a new attempt', async () => {
    const { labeled, task } = await startWithPull();
    await postGitHub(app!.url, 'issues', github.issueFrom(madeLater(labeled)));
    await waitFor(async () => {
      const runs = await app!.store.db.selectFrom('assignments').selectAll().execute();
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow();
      return runs.length === 2 && t.status === 'completed';
    }, 'the second attempt');
    await app!.runs.idle();
    expect(github.pulls).toHaveLength(1);
    expect(github.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pulls'))).toHaveLength(1);
    expect(github.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/pulls/2'))).toHaveLength(1);
    const attempts = await app!.store.db.selectFrom('assignments').selectAll().orderBy('id').execute();
    expect(attempts.map((a) => [a.branch, a.mr_number])).toEqual([
      [task.branch, 2],
      [task.branch, 2],
    ]);
    const after = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow();
    expect({ branch: after.branch, pr_number: after.pr_number }).toEqual({ branch: task.branch, pr_number: 2 });

    // Merged: the newest attempt, the one whose commit the PR carries, gets the final reward.
    Object.assign(github.pulls[0]!, { state: 'closed', merged_at: '2026-11-21T11:00:00Z' });
    github.pulls[0]!.head.sha = after.head_sha!;
    await postGitHub(app!.url, 'pull_request', closedPayload(labeled, github.pulls[0]!));
    await settled(app!);
    const rows = await app!.store.db.selectFrom('rewards').selectAll().execute();
    expect(rows.map((r) => [r.assignment_id, r.kind, r.mr_state])).toEqual([[attempts[1]!.id, 'final', 'merged']]);
  });
});
