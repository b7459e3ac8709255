/**
 * The whole RLVR loop on GitLab with signed payloads from GitLab's docs: an issue becomes a
 * merge request (scripted agent, real git), its pipeline, an approval and the merge become a
 * final reward, and the reward moves the agent's tier. Redelivered and reordered events change
 * nothing.
 */
import { oneRewardTiers } from '../support/record.js';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFile } from '../../src/agents/schema.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { git } from '../../src/workspace/git.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { postGitLab, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitLab, type FakePipeline } from '../helpers/gitlab-api.js';
import { labeledIssue, madeLater } from '../helpers/issues.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const fixture = (name: string) => gitlabFixture(name);

/** The agent writes a small function: something for complexity and lint to look at. */
const writeGreeting = (loaded: LoadedConfig) => {
  const source = 'export function greet(name) {\n  if (!name) return "hello";\n  return "hello " + name;\n}\n';
  for (const a of loaded.agents as AgentFile[]) {
    a.runner = {
      kind: 'scripted',
      script: ['node', '-e', `require('fs').mkdirSync('src',{recursive:true}); require('fs').writeFileSync('src/greet.js', ${JSON.stringify(source)})`],
    };
  }
};

const codeQuality = (findings: { path: string; line: number; check: string; severity: string }[]) =>
  JSON.stringify(
    findings.map((f, i) => ({
      description: `${f.check} violation`,
      check_name: f.check,
      fingerprint: `fp-${f.path}-${f.check}-${i}`,
      severity: f.severity,
      location: { path: f.path, lines: { begin: f.line } },
    })),
  );
const sast = (vulnerabilities: { severity: string; file: string }[]) =>
  JSON.stringify({
    version: '15.0.7',
    vulnerabilities: vulnerabilities.map((v, i) => ({
      id: `v${i}`,
      category: 'sast',
      name: 'Use of eval',
      severity: v.severity,
      identifiers: [{ type: 'semgrep_id', name: 'eval', value: 'eval' }],
      location: { file: v.file, start_line: 2 },
    })),
    scan: { type: 'sast', status: 'success' },
  });

describe('the RLVR loop on GitLab', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-loop-');
    remote = await createRemote(dir.path);
    gitlab = new FakeGitLab().install();
    gitlab.members.set('alice', { id: 7, username: 'alice', access_level: 30 });
    gitlab.members.set('guest', { id: 8, username: 'guest', access_level: 10 });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  /** Runs the task to its merge request; returns the task. */
  async function openMergeRequest(labels: string[] = [], tweak: (loaded: LoadedConfig) => void = writeGreeting) {
    app = await startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        oneRewardTiers(loaded);
        tweak(loaded);
      },
    });
    const issue = labeledIssue(`file://${remote.bare}`);
    if (labels.length > 0) {
      const extra = labels.map((title, i) => ({ ...issue.labels[0], id: 990 + i, title }));
      issue.labels = [...issue.labels, ...extra];
      issue.object_attributes.labels = issue.labels;
      issue.changes.labels.current = issue.labels;
    }
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(issue));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' ? t : undefined;
    }, 'the merge request');
    await app.runs.idle();
    gitlab.mergeRequests[0]!.sha = task.head_sha;
    const mainSha = await git(['--git-dir', remote.bare, 'rev-parse', 'main']);
    return { task, issue, mainSha };
  }

  function pipelineHook(issue: ReturnType<typeof labeledIssue>, p: Pick<FakePipeline, 'id' | 'sha' | 'status' | 'coverage'>) {
    const hook = fixture('pipeline-hook.json');
    hook.project = issue.project;
    hook.object_attributes = {
      ...hook.object_attributes,
      id: p.id,
      iid: p.id,
      sha: p.sha,
      status: p.status,
      coverage: p.coverage,
      ref: 'refs/merge-requests/1/head',
      url: `${issue.project.web_url}/-/pipelines/${p.id}`,
    };
    hook.merge_request = { ...hook.merge_request, iid: 1 };
    return hook;
  }

  function mergeRequestHook(issue: ReturnType<typeof labeledIssue>, action: string, state: string) {
    const hook = fixture('merge-request-hook.json');
    hook.project = issue.project;
    const mr = gitlab.mergeRequests[0]!;
    hook.object_attributes = {
      ...hook.object_attributes,
      iid: mr.iid,
      action,
      state,
      source_branch: mr.source_branch,
      target_branch: mr.target_branch,
      last_commit: { ...hook.object_attributes.last_commit, id: mr.sha },
    };
    hook.user = { ...hook.user, id: 7, username: 'alice', name: 'Alice' };
    return hook;
  }

  const reward = () => app!.store.db.selectFrom('rewards').selectAll().executeTakeFirst();
  const agent = (name: string) => app!.store.db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
  const reportNote = () => gitlab.notes.get('/api/v4/projects/1/merge_requests/1/notes')?.[0]?.body ?? '';

  /** An agent that writes the function with a suppression comment, and (when `workflow`) adds a CI workflow. */
  const cheat = (workflow: boolean) => (loaded: LoadedConfig) => {
    loaded.config.policy.on_protected_change = 'flag';
    const source = '// eslint-disable-next-line no-unused-vars\nexport function greet(name) {\n  return "hello " + name;\n}\n';
    const steps = [
      "const fs = require('fs');",
      "fs.mkdirSync('src', { recursive: true });",
      `fs.writeFileSync('src/greet.js', ${JSON.stringify(source)});`,
      ...(workflow ? ["fs.mkdirSync('.github/workflows', { recursive: true });", "fs.writeFileSync('.github/workflows/ci.yml', 'on: push\\n');"] : []),
    ];
    for (const a of loaded.agents as AgentFile[]) a.runner = { kind: 'scripted', script: ['node', '-e', steps.join(' ')] };
  };
  const greenPipelines = (headSha: string, mainSha: string): FakePipeline[] => [
    { id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80.0', jobs: [{ id: 1001, name: 'code_quality', files: { 'gl-code-quality-report.json': '[]' } }] },
    {
      id: 200,
      sha: headSha,
      ref: 'refs/merge-requests/1/head',
      status: 'success',
      coverage: '90.0',
      jobs: [
        { id: 2001, name: 'code_quality', files: { 'gl-code-quality-report.json': '[]' } },
        { id: 2002, name: 'semgrep-sast', files: { 'gl-sast-report.json': sast([]) } },
      ],
    },
  ];

  it('a flagged change (a new CI workflow) gets a guarded reward: CI, coverage and lint take their defaults', async () => {
    const { task, issue, mainSha } = await openMergeRequest([], cheat(true));
    expect(gitlab.mergeRequests[0]!.labels).toContain('doom:protected-change');
    gitlab.pipelines.push(...greenPipelines(task.head_sha!, mainSha));
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await settled(app!);
    const provisional = (await reward())!;
    expect(provisional).toMatchObject({ kind: 'provisional', guarded: 1, degraded: 0 });
    // The pipeline was green with +10 points of coverage and a clean lint report: none of it counts.
    expect(JSON.parse(provisional.components)).toMatchObject({
      ci_pipeline_status: 0,
      test_coverage_delta: 0,
      lint_score: 0.5,
      security_scan_score: 1,
    });
    expect(reportNote()).toContain('the reward is marked guarded');
    expect(reportNote()).toMatch(/CI pipeline \| \+?0\.00 \(guarded, default: the change has a protected path/);
  });

  it('an added suppression comment counts as a lint finding although the linter reported none', async () => {
    const { task, issue, mainSha } = await openMergeRequest([], cheat(false));
    expect(gitlab.mergeRequests[0]!.labels).not.toContain('doom:protected-change');
    gitlab.pipelines.push(...greenPipelines(task.head_sha!, mainSha));
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await settled(app!);
    const provisional = (await reward())!;
    expect(provisional).toMatchObject({ guarded: 0, degraded: 0 });
    const components = JSON.parse(provisional.components);
    expect(components).toMatchObject({ ci_pipeline_status: 1, test_coverage_delta: 1 });
    // One major finding in a 4-line change (floored to 20 lines): 0.5 ^ ((1 × 100 / 20) / 3).
    expect(components.lint_score).toBeCloseTo(0.5 ** (5 / 3), 6);
  });

  it('pipeline success, approval and merge give a final reward that promotes the agent', async () => {
    const { task, issue, mainSha } = await openMergeRequest();
    gitlab.pipelines.push(
      { id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80.0', jobs: [{ id: 1001, name: 'code_quality', files: { 'gl-code-quality-report.json': '[]' } }] },
      {
        id: 200,
        sha: task.head_sha!,
        ref: 'refs/merge-requests/1/head',
        status: 'success',
        coverage: '82.5',
        jobs: [
          { id: 2001, name: 'code_quality', files: { 'gl-code-quality-report.json': codeQuality([{ path: 'src/greet.js', line: 3, check: 'prefer-template', severity: 'minor' }]) } },
          { id: 2002, name: 'semgrep-sast', files: { 'gl-sast-report.json': sast([]) } },
        ],
      },
    );

    const pipelineKey = crypto.randomUUID();
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!), { idempotencyKey: pipelineKey });
    await settled(app!);
    const provisional = (await reward())!;
    const components = JSON.parse(provisional.components);
    expect(provisional).toMatchObject({ kind: 'provisional', agent_name: 'agent-bugfix-junior', task_id: task.id, degraded: 0 });
    expect(components).toMatchObject({ ci_pipeline_status: 1, test_coverage_delta: 0.25, security_scan_score: 1, review_feedback_score: 0 });
    // One minor finding in a 4-line change: 0.5 ^ ((0.5 × 100 / 20) / 3).
    expect(components.lint_score).toBeCloseTo(0.5 ** (2.5 / 3), 4);
    // A new file of complexity 2 against nothing before: −2 / 20.
    expect(components.code_complexity_delta).toBeCloseTo(-0.1, 4);
    expect(reportNote()).toContain('(provisional)');

    // Alice (Developer) approves; a Guest's approval and a bot's 👍 do not count.
    gitlab.mergeRequests[0]!.approvedBy.push({ id: 7, username: 'alice' }, { id: 8, username: 'guest' });
    gitlab.mergeRequests[0]!.emoji.push({ name: 'thumbsup', user: { id: 99, username: 'project_1_bot_3f2c', bot: true } });
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'approved', 'opened'));
    await settled(app!);
    expect(JSON.parse((await reward())!.components).review_feedback_score).toBe(0.3);

    gitlab.mergeRequests[0]!.state = 'merged';
    const mergeKey = crypto.randomUUID();
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'merge', 'merged'), { idempotencyKey: mergeKey });
    await settled(app!);
    const final = (await reward())!;
    expect(final.kind).toBe('final');
    expect(JSON.parse(final.components).review_feedback_score).toBe(0.7);
    expect(final.reward).toBeGreaterThanOrEqual(2);
    const junior = await agent('agent-bugfix-junior');
    expect(junior).toMatchObject({ tier: 'senior', rolling_avg: final.reward });
    expect(reportNote()).toContain('(final)');
    expect(reportNote()).toContain('**Tier change:** junior → senior');

    // Redelivery of the merge, a second delivery of the same pipeline, and an older failed
    // pipeline for the same commit arriving late: nothing moves.
    const before = { reward: final.reward, updated: final.updated_at, notes: gitlab.made('PUT', /merge_requests\/1\/notes/).length };
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'merge', 'merged'), { idempotencyKey: mergeKey });
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, { id: 150, sha: task.head_sha!, status: 'failed', coverage: '10.0' }));
    await settled(app!);
    const after = (await reward())!;
    expect(after.reward).toBe(before.reward);
    expect(after.kind).toBe('final');
    expect(gitlab.made('PUT', /merge_requests\/1\/notes/)).toHaveLength(before.notes);
    const history = await app!.store.db.selectFrom('tier_history').selectAll().where('agent_name', '=', 'agent-bugfix-junior').orderBy('id').execute();
    expect(history.map((h) => [h.from_tier, h.to_tier, h.source])).toEqual([
      ['junior', 'junior', 'config'],
      ['junior', 'senior', 'rewards'],
    ]);
    const audit = await app!.store.db.selectFrom('audit_log').select('event').where('event', 'like', 'reward.%').execute();
    expect(audit.map((a) => a.event)).toEqual(['reward.provisional', 'reward.provisional', 'reward.final']);
  });

  it('a `/doom feedback` vote on the merge request moves review_feedback_score by 0.2, once per person', async () => {
    const { task, issue, mainSha } = await openMergeRequest();
    gitlab.pipelines.push(...greenPipelines(task.head_sha!, mainSha));
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await settled(app!);
    expect(JSON.parse((await reward())!.components).review_feedback_score).toBe(0);
    nock('https://gitlab.example.com').persist().post(/\/merge_requests\/1\/notes\/\d+\/award_emoji$/).reply(201, { id: 1, name: 'eyes' });

    const note = (body: string, id: number, user: { id: number; username: string }) => {
      const hook = fixture('note-hook-merge-request.json');
      hook.project = issue.project;
      hook.user = { ...hook.user, ...user };
      hook.object_attributes = { ...hook.object_attributes, id, note: body, author_id: user.id, action: 'create' };
      return hook;
    };
    await postGitLab(app!.url, 'Note Hook', note('/doom feedback -1 no test for the empty name', 3001, { id: 7, username: 'alice' }));
    await settled(app!);
    const after = (await reward())!;
    expect(JSON.parse(after.components).review_feedback_score).toBe(-0.2);
    const reply = gitlab.notes.get('/api/v4/projects/1/merge_requests/1/notes')!.find((n) => n.body.includes('doom-rlvr:command:3001'))!.body;
    expect(reply).toContain(`the reward is now ${after.reward.toFixed(2)}, provisional`);

    // Her second vote replaces the first; a Guest may not vote at all.
    await postGitLab(app!.url, 'Note Hook', note('/doom feedback +1', 3002, { id: 7, username: 'alice' }));
    await postGitLab(app!.url, 'Note Hook', note('/doom feedback +1', 3003, { id: 8, username: 'guest' }));
    await settled(app!);
    expect(JSON.parse((await reward())!.components).review_feedback_score).toBe(0.2);
  });

  it('an unreadable report degrades its component; a failed evaluation leaves the reward standing and is counted', async () => {
    const { task, issue, mainSha } = await openMergeRequest();
    gitlab.pipelines.push(
      { id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80', jobs: [] },
      {
        id: 200,
        sha: task.head_sha!,
        ref: 'refs/merge-requests/1/head',
        status: 'success',
        coverage: '80',
        jobs: [{ id: 2001, name: 'code_quality', files: { 'gl-code-quality-report.json': '{"not": "a list"' } }],
      },
    );
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await settled(app!);
    const provisional = (await reward())!;
    expect(provisional).toMatchObject({ kind: 'provisional', degraded: 1 });
    expect(JSON.parse(provisional.components).lint_score).toBe(0.5);
    expect(reportNote()).toMatch(/Lint \| \+0\.50 \(default: .*report/);

    // The merge request cannot be read: the evaluation fails, the reward stands.
    gitlab.mergeRequestsUnreadable = true;
    gitlab.mergeRequests[0]!.approvedBy.push({ id: 7, username: 'alice' });
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'approved', 'opened'));
    await settled(app!);
    const after = (await reward())!;
    expect({ reward: after.reward, kind: after.kind, updated: after.updated_at }).toEqual({
      reward: provisional.reward,
      kind: 'provisional',
      updated: provisional.updated_at,
    });
    const evaluation = await app!.store.db.selectFrom('evaluations').selectAll().executeTakeFirstOrThrow();
    expect(evaluation.errors).toBe(1);
    expect(evaluation.last_error).toMatch(/404/);
    const errors = await app!.store.db.selectFrom('audit_log').select('event').where('event', '=', 'reward.error').execute();
    expect(errors).toHaveLength(1);
    expect(await (await fetch(`${app!.url}/metrics`)).text()).toContain('doom_evaluator_errors 1');
    // The delivery itself is done: retrying it would not make the forge answer.
    const deliveries = await app!.store.db.selectFrom('webhook_deliveries').select('status').execute();
    expect(deliveries.every((d) => d.status === 'done')).toBe(true);
  });

  it('a closed merge request gives a final reward that a later pipeline cannot change', async () => {
    // P1: seniors and principals only; the senior bugfix agent takes it.
    const { task, issue, mainSha } = await openMergeRequest(['P1']);
    expect(task.assigned_agent).toBe('agent-bugfix-senior');
    gitlab.pipelines.push({ id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80', jobs: [] });
    // The merge request closes while its pipeline still runs (GitLab lists none finished); the
    // pipeline fails after, and its hook is delivered after that.
    gitlab.mergeRequests[0]!.state = 'closed';
    gitlab.mergeRequests[0]!.reviewers.push({ user: { id: 7, username: 'alice' }, state: 'requested_changes' });
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'close', 'closed'));
    await settled(app!);
    gitlab.pipelines.push({
      id: 200,
      sha: task.head_sha!,
      ref: 'refs/merge-requests/1/head',
      status: 'failed',
      coverage: '70',
      jobs: [{ id: 2002, name: 'semgrep-sast', files: { 'gl-sast-report.json': sast([{ severity: 'Critical', file: 'src/greet.js' }]) } }],
    });
    const early = (await reward())!;
    expect(early).toMatchObject({ kind: 'final', degraded: 1 });
    // Without the pipeline's signals, defaults; closed unmerged, no score counts above 0, and no
    // pipeline passed (CI −1): 5 × (0.1 × −1 + 0.1 × −0.9) = −0.95 (0.55 on the seed's plain sum).
    expect(early.reward).toBe(-0.95);
    // One reward may demote (the test's tiers read at confidence 0.5) but never suspend: that
    // takes `suspension_min_rewards` (5) outcomes.
    expect((await agent('agent-bugfix-senior')).tier).toBe('junior');

    // Its failed pipeline, delivered after the close, is evidence for the audit log only: a
    // final reward is final, and the agent's standing does not move again.
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await settled(app!);
    const final = (await reward())!;
    expect(final).toEqual(early);
    expect((await agent('agent-bugfix-senior')).tier).toBe('junior');
    const late = await app!.store.db.selectFrom('audit_log').selectAll().where('event', '=', 'reward.late_evidence').execute();
    expect(late).toHaveLength(1);
    const evidence = JSON.parse(late[0]!.data);
    expect(evidence.components).toMatchObject({ ci_pipeline_status: 0, test_coverage_delta: -1, review_feedback_score: -0.9 });
    expect(evidence.standing).toEqual({ id: early.id, reward: -0.95, kind: 'final' });
    const history = await app!.store.db.selectFrom('tier_history').selectAll().where('agent_name', '=', 'agent-bugfix-senior').orderBy('id').execute();
    expect(history.slice(1).map((h) => [h.from_tier, h.to_tier])).toEqual([['senior', 'junior']]);
    // Its only MR closed unmerged: a success rate of 0.
    expect(await (await fetch(`${app!.url}/metrics`)).text()).toContain('doom_agent_success_rate{agent="agent-bugfix-senior"} 0');
    // The lint report was missing: its default, and the reward says so.
    expect(reportNote()).toContain('Lint | +0.50 (default');
    expect(reportNote()).toContain('Closed without merging: no component earns credit');
  });

  it('a merge delivered before any Pipeline Hook settles on the merge request\'s pipelines as GitLab lists them', async () => {
    const { task, issue, mainSha } = await openMergeRequest();
    // An older failed pipeline and the head's green one; neither hook arrived before the merge.
    gitlab.pipelines.push(...greenPipelines(task.head_sha!, mainSha), { id: 150, sha: task.head_sha!, ref: 'refs/merge-requests/1/head', status: 'failed', coverage: null, jobs: [] });
    gitlab.mergeRequests[0]!.state = 'merged';
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'merge', 'merged'));
    await settled(app!);
    const final = (await reward())!;
    expect(final).toMatchObject({ kind: 'final', mr_state: 'merged', degraded: 0 });
    // The newest pipeline (200) speaks: green, and 90% against main's 80% from the pipeline API.
    expect(JSON.parse(final.components)).toMatchObject({ ci_pipeline_status: 1, test_coverage_delta: 1, security_scan_score: 1 });

    // The hooks arrive late, the failed one last: the final reward stands.
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[1]!));
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(issue, gitlab.pipelines[2]!));
    await settled(app!);
    expect(await reward()).toEqual(final);
  });

  it('the close of an earlier attempt\'s merge request, delivered after a relabel moved the task on, settles that attempt', async () => {
    const { task, issue, mainSha } = await openMergeRequest();
    gitlab.pipelines.push(...greenPipelines(task.head_sha!, mainSha));
    // Closed on GitLab; its hook is late. The relabel sees the MR closed: a new attempt, a new MR.
    gitlab.mergeRequests[0]!.state = 'closed';
    await postGitLab(app!.url, 'Issue Hook', gitlab.issueFrom(madeLater(labeledIssue(`file://${remote.bare}`))));
    await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' && t.pr_number === 2 ? t : undefined;
    }, 'the second merge request');
    await app!.runs.idle();

    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'close', 'closed'));
    await settled(app!);
    const [first] = await app!.store.db.selectFrom('assignments').selectAll().orderBy('id').execute();
    const rows = await app!.store.db.selectFrom('rewards').selectAll().execute();
    // The first attempt's reward, from its own head's pipeline (listed by GitLab at the close).
    expect(rows).toEqual([expect.objectContaining({ assignment_id: first!.id, kind: 'final', mr_number: 1, mr_state: 'closed' })]);
    expect(JSON.parse(rows[0]!.components)).toMatchObject({ ci_pipeline_status: 1 });
  });

  it('a relabel after the merge request closed opens a new attempt on a new branch; the old final reward stays', async () => {
    const { task, issue, mainSha } = await openMergeRequest();
    gitlab.pipelines.push({ id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80', jobs: [] });
    gitlab.mergeRequests[0]!.state = 'closed';
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook(issue, 'close', 'closed'));
    await settled(app!);
    const closed = (await reward())!;
    expect(closed).toMatchObject({ kind: 'final', mr_number: 1, mr_state: 'closed' });

    // The maintainer labels the issue again: the forge says the MR is closed, so a new branch
    // and a new MR, and the first attempt's final reward is left as it was.
    await postGitLab(app!.url, 'Issue Hook', gitlab.issueFrom(madeLater(labeledIssue(`file://${remote.bare}`))));
    const again = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' && t.pr_number === 2 ? t : undefined;
    }, 'the second merge request');
    await app!.runs.idle();
    expect(again.branch).toBe(`${task.branch}-2`);
    expect(gitlab.mergeRequests.map((m) => [m.iid, m.source_branch, m.state])).toEqual([
      [1, task.branch, 'closed'],
      [2, `${task.branch}-2`, 'opened'],
    ]);
    const attempts = await app!.store.db.selectFrom('assignments').selectAll().orderBy('id').execute();
    expect(attempts.map((a) => [a.branch, a.mr_number])).toEqual([
      [task.branch, 1],
      [`${task.branch}-2`, 2],
    ]);

    // The new MR's pipeline scores the new attempt, in a row of its own.
    gitlab.mergeRequests[1]!.sha = again.head_sha;
    gitlab.pipelines.push({ id: 300, sha: again.head_sha!, ref: 'refs/merge-requests/2/head', status: 'success', coverage: '81', jobs: [] });
    const hook = pipelineHook(issue, gitlab.pipelines[1]!);
    hook.object_attributes.ref = 'refs/merge-requests/2/head';
    hook.merge_request = { ...hook.merge_request, iid: 2 };
    await postGitLab(app!.url, 'Pipeline Hook', hook);
    await settled(app!);
    const rows = await app!.store.db.selectFrom('rewards').selectAll().orderBy('id').execute();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual(closed);
    expect(rows[1]).toMatchObject({ assignment_id: attempts[1]!.id, kind: 'provisional', mr_number: 2, mr_state: 'open', settled_at: null });
  });
});
