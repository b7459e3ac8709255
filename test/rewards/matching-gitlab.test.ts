/**
 * Which GitLab pipelines and review changes count for a merge request, with signed payloads
 * from GitLab's docs through the HTTP server: the MR's own pipelines (its source branch or its
 * merge request pipelines), never the target branch's; head coverage from the pipeline API
 * when the hook has none; a change request delivered as a Merge Request Hook `update`.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFile } from '../../src/agents/schema.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { git } from '../../src/workspace/git.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { postGitLab, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitLab, type FakePipeline } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const writeGreeting = (loaded: LoadedConfig) => {
  const source = 'export function greet(name) {\n  if (!name) return "hello";\n  return "hello " + name;\n}\n';
  for (const a of loaded.agents as AgentFile[]) {
    a.runner = {
      kind: 'scripted',
      script: ['node', '-e', `require('fs').mkdirSync('src',{recursive:true}); require('fs').writeFileSync('src/greet.js', ${JSON.stringify(source)})`],
    };
  }
};

describe('GitLab: which pipelines and reviews count for a merge request', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;
  let issue: ReturnType<typeof labeledIssue>;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-glmatch-');
    remote = await createRemote(dir.path);
    gitlab = new FakeGitLab().install();
    gitlab.members.set('alice', { id: 7, username: 'alice', access_level: 30 });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  /** Runs the task to merge request !1; main has a successful pipeline with coverage 80. */
  async function openMergeRequest() {
    app = await startTestApp({ executor: 'local', tweak: writeGreeting });
    issue = labeledIssue(`file://${remote.bare}`);
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(issue));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' ? t : undefined;
    }, 'the merge request');
    await app.runs.idle();
    gitlab.mergeRequests[0]!.sha = task.head_sha;
    const mainSha = await git(['--git-dir', remote.bare, 'rev-parse', 'main']);
    gitlab.pipelines.push({ id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80.0', jobs: [] });
    return task;
  }

  /**
   * GitLab's Pipeline Hook for `p`: a merge request pipeline (`merge_request` object, source
   * `merge_request_event`) unless `mr` is false. The documented hook carries no `coverage`.
   */
  function pipelineHook(p: Pick<FakePipeline, 'id' | 'sha' | 'ref' | 'status'>, mr = true) {
    const hook = gitlabFixture('pipeline-hook.json');
    hook.project = issue.project;
    hook.object_attributes = {
      ...hook.object_attributes,
      id: p.id,
      iid: p.id,
      sha: p.sha,
      ref: p.ref,
      status: p.status,
      source: mr ? 'merge_request_event' : 'push',
      url: `${issue.project.web_url}/-/pipelines/${p.id}`,
    };
    delete hook.object_attributes.coverage;
    if (mr) hook.merge_request = { ...hook.merge_request, iid: 1, source_branch: gitlab.mergeRequests[0]!.source_branch, target_branch: 'main' };
    else delete hook.merge_request;
    return hook;
  }

  function mergeRequestHook(action: string, state: string, changes: Record<string, unknown> = {}) {
    const hook = gitlabFixture('merge-request-hook.json');
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
    hook.changes = changes;
    return hook;
  }

  const reward = () => app!.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();
  const components = async () => JSON.parse((await reward()).components) as Record<string, number>;
  const reportNote = () => gitlab.notes.get('/api/v4/projects/1/merge_requests/1/notes')?.[0]?.body ?? '';

  it("main's post-merge pipeline on the MR's commit (fast-forward merge) is not the MR's: the reward stands", async () => {
    const task = await openMergeRequest();
    gitlab.pipelines.push({ id: 200, sha: task.head_sha!, ref: 'refs/merge-requests/1/head', status: 'success', coverage: '82.5', jobs: [] });
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(gitlab.pipelines[1]!));
    await settled(app!);
    expect(await components()).toMatchObject({ ci_pipeline_status: 1, test_coverage_delta: 0.25 });

    gitlab.mergeRequests[0]!.state = 'merged';
    await postGitLab(app!.url, 'Merge Request Hook', mergeRequestHook('merge', 'merged'));
    await settled(app!);
    const final = await reward();
    expect(final.kind).toBe('final');

    // Fast-forward: main now points at the MR's commit, and main's pipeline runs on it.
    gitlab.pipelines.push({ id: 300, sha: task.head_sha!, ref: 'main', status: 'success', coverage: '82.5', jobs: [] });
    const before = gitlab.calls.length;
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(gitlab.pipelines[2]!, false));
    await settled(app!);
    const after = await reward();
    expect({ reward: after.reward, kind: after.kind, components: after.components }).toEqual({ reward: final.reward, kind: 'final', components: final.components });
    expect(gitlab.calls.slice(before)).toEqual([]);
    expect(await app!.store.db.selectFrom('evaluations').select(['pipeline_id']).executeTakeFirstOrThrow()).toEqual({ pipeline_id: 200 });
  });

  it('a branch pipeline on the source branch counts; head coverage comes from the pipeline API when the hook has none', async () => {
    const task = await openMergeRequest();
    gitlab.pipelines.push({ id: 200, sha: task.head_sha!, ref: task.branch!, status: 'success', coverage: '82.5', jobs: [] });
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(gitlab.pipelines[1]!, false));
    await settled(app!);
    const provisional = await reward();
    expect(JSON.parse(provisional.components)).toMatchObject({ ci_pipeline_status: 1, test_coverage_delta: 0.25 });
    expect(gitlab.made('GET', /\/projects\/1\/pipelines\/200$/)).toHaveLength(1);
    expect(reportNote()).not.toMatch(/Coverage[^\n]*default/);

    // A report, when the pipeline has one, wins over the figure: the same rule as for the base.
    const lcov = `TN:\nSF:src/greet.js\n${[1, 2, 3, 4].map((n) => `DA:${n},${n <= 3 ? 1 : 0}\n`).join('')}end_of_record\n`;
    gitlab.pipelines.push({ id: 201, sha: task.head_sha!, ref: task.branch!, status: 'success', coverage: '82.5', jobs: [{ id: 2011, name: 'test', files: { 'coverage/lcov.info': lcov } }] });
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(gitlab.pipelines[2]!, false));
    await settled(app!);
    const signals = JSON.parse((await app!.store.db.selectFrom('evaluations').selectAll().executeTakeFirstOrThrow()).signals);
    expect(signals).toMatchObject({ coverageHead: 75, coverageBase: 80, patch: { coverable: 4, covered: 3 } });
    // Its lines give patch coverage: all four lines of greet.js are the change's, three ran: 75%
    // against main's 80% is (75 − 80) / 80. (Project coverage alone would say −5 points, −0.5.)
    expect((await components()).test_coverage_delta).toBe(-0.0625);
  });

  it('a change request, delivered as a Merge Request Hook update, moves the provisional reward', async () => {
    const task = await openMergeRequest();
    gitlab.pipelines.push({ id: 200, sha: task.head_sha!, ref: 'refs/merge-requests/1/head', status: 'success', coverage: '82.5', jobs: [] });
    await postGitLab(app!.url, 'Pipeline Hook', pipelineHook(gitlab.pipelines[1]!));
    await settled(app!);
    const provisional = await reward();
    expect(JSON.parse(provisional.components).review_feedback_score).toBe(0);

    // Alice submits her review with "Request changes": GitLab sends an `update` whose changes
    // carry her reviewer state (GitLab 18.x), and the reviewers API says requested_changes.
    gitlab.mergeRequests[0]!.reviewers.push({ user: { id: 7, username: 'alice' }, state: 'requested_changes' });
    const alice = { id: 7, name: 'Alice', username: 'alice', avatar_url: null, email: '[REDACTED]', re_requested: false };
    await postGitLab(
      app!.url,
      'Merge Request Hook',
      mergeRequestHook('update', 'opened', {
        reviewers: { previous: [{ ...alice, state: 'unreviewed' }], current: [{ ...alice, state: 'requested_changes' }] },
      }),
    );
    await settled(app!);
    const changed = await reward();
    expect(changed.kind).toBe('provisional');
    expect(JSON.parse(changed.components).review_feedback_score).toBe(-0.3);
    expect(changed.reward).toBeLessThan(provisional.reward);
    expect(reportNote()).toContain(`${changed.reward >= 0 ? '+' : ''}${changed.reward.toFixed(2)}`);

    // Review re-requested: her change request no longer stands.
    gitlab.mergeRequests[0]!.reviewers[0]!.state = 'unreviewed';
    await postGitLab(
      app!.url,
      'Merge Request Hook',
      mergeRequestHook('update', 'opened', {
        reviewers: { previous: [{ ...alice, state: 'requested_changes' }], current: [{ ...alice, state: 'unreviewed', re_requested: true }] },
      }),
    );
    await settled(app!);
    expect((await reward()).reward).toBe(provisional.reward);
  });
});
