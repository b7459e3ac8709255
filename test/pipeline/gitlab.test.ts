/**
 * The pipeline end to end on GitLab, through the HTTP server: a signed Issue Hook, the bot's
 * issue read and merge request answered by nock (FakeGitLab), a real bare repository as the
 * remote, three command-runner agents, and the sample's own commands as the bot's checks.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSampleRepository, sampleCommands } from '../../src/forges/local/sample.js';
import { pipelineConfig } from '../../src/pipeline/policy.js';
import { candidatesOfTask, headToHead, latestExecution } from '../../src/store/pipeline.js';
import { git } from '../../src/workspace/git.js';
import { postGitLab, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { tempDir } from '../workspace/helpers.js';
import { ACCEPTANCE_YAML, FIX, PROTECTED, WRONG_FIX, agentFile } from './harness.js';

const run = promisify(execFile);

describe('the pipeline on GitLab', () => {
  let app: TestApp | undefined;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-pipeline-gitlab-');
    gitlab = new FakeGitLab().install();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  it('opens one merge request with the right fix and the candidates table, from a labeled issue', async () => {
    const work = join(dir.path, 'sample');
    await mkdir(work);
    await createSampleRepository(work);
    const bare = join(dir.path, 'sample.git');
    await run('git', ['clone', '--quiet', '--bare', work, bare]);
    const issue = labeledIssue(`file://${bare}`, `add() subtracts.\n\n\`\`\`yaml\n${ACCEPTANCE_YAML}\`\`\`\n`);
    const path = issue.project.path_with_namespace;

    app = await startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        loaded.agents = [
          agentFile('agent-a-wrong', { implement: WRONG_FIX }),
          agentFile('agent-b-right', { implement: FIX }),
          agentFile('agent-c-ci', { implement: `${FIX} ${PROTECTED}` }),
        ];
        loaded.config.coordinator.max_concurrent_agents = 1;
        loaded.config.repositories = { [path]: { commands: sampleCommands } };
        loaded.config.pipeline = pipelineConfig.parse({ enabled: true, parallel: 1, policies: { P2: { candidates: 3, stopping: { stop_on_first_pass: false } } } });
      },
    });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(issue));
    const task = await waitFor(
      async () => {
        const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
        return t && ['completed', 'failed'].includes(t.status) ? t : undefined;
      },
      'the task to end',
      6_000,
    );
    await app.runs.idle();
    expect(task).toMatchObject({ status: 'completed', assigned_agent: 'agent-a-wrong', pr_number: 1 });

    // One merge request, from the task's branch, carrying the right fix and the oracle test.
    const [opened, ...more] = gitlab.made('POST', /merge_requests$/);
    expect(more).toEqual([]);
    expect(opened!.body).toMatchObject({ source_branch: task.branch, target_branch: 'main' });
    expect(await git(['--git-dir', bare, 'show', `${task.branch}:src/math.js`])).toContain('return a + b;');
    expect(await git(['--git-dir', bare, 'show', `${task.branch}:test/issue.test.js`])).toContain('add(2, 2) is 4');
    expect(await git(['--git-dir', bare, 'for-each-ref', '--format=%(refname)', 'refs/heads'])).toBe(`refs/heads/${task.branch}\nrefs/heads/main`);

    const description = String(opened!.body.description);
    expect(description).toContain('Closes #23');
    expect(description).toContain('- [x] add(2, 2) returns 4 — the oracle test `test/issue.test.js` passes and the suite is no worse than on the base');
    for (const agent of ['agent-a-wrong', 'agent-b-right', 'agent-c-ci']) expect(description).toContain(`\`${agent}\``);
    expect(description).toMatch(/\| 2 ★ \| `agent-b-right` \|/);
    expect(description).toContain('### Why #2 won');

    const db = app.store.db;
    expect((await candidatesOfTask(db, task.id)).map((c) => [c.agent_name, c.passed, c.selected])).toEqual([
      ['agent-a-wrong', 0, 0],
      ['agent-b-right', 1, 1],
      ['agent-c-ci', 0, 0],
    ]);
    expect(await headToHead(db, task.id)).toHaveLength(3);
    const state = (await latestExecution(db, task.id))!;
    expect(state.gates_passed).toEqual(['guards', 'oracle', 'suite', 'lint']);
    expect(state.budget.spent.tokens).toBe(4 * 1200);
    expect(state.breakers).toEqual([]);
    // The issue's sticky note lists the criteria the spec phase read from the issue.
    const note = gitlab.notes.get('/api/v4/projects/1/issues/23/notes')![0]!;
    expect(note.body).toContain('**Acceptance criteria**\n\n- add(2, 2) returns 4');
    // … and did so while the run was going on, right after the spec phase.
    const edits = gitlab.made('PUT', /issues\/23\/notes\/\d+$/).map((c) => String(c.body.body));
    expect(edits.some((b) => b.includes('**in_progress**') && b.includes('**Acceptance criteria**'))).toBe(true);

    // The merge request carries agent-b-right's candidate: its reward is agent-b-right's, not
    // that of the agent the task was assigned to.
    gitlab.mergeRequests[0]!.sha = task.head_sha;
    gitlab.mergeRequests[0]!.state = 'merged';
    gitlab.pipelines.push({ id: 200, sha: task.head_sha!, ref: 'refs/merge-requests/1/head', status: 'success', coverage: null, jobs: [] });
    const merge = gitlabFixture('merge-request-hook.json');
    merge.project = issue.project;
    merge.object_attributes = { ...merge.object_attributes, iid: 1, action: 'merge', state: 'merged', source_branch: task.branch, target_branch: 'main' };
    await postGitLab(app.url, 'Merge Request Hook', merge);
    await settled(app);
    const rewards = await db.selectFrom('rewards').select(['agent_name', 'kind', 'assignment_id']).execute();
    expect(rewards).toEqual([{ agent_name: 'agent-b-right', kind: 'final', assignment_id: expect.any(Number) }]);
  }, 180_000);
});
