/**
 * The pipeline end to end on GitHub, through the HTTP server: the published issues.labeled
 * example (signed), the bot's issue read and pull request answered by nock (FakeGitHub), a real
 * bare repository as the remote, three command-runner agents.
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
import { githubExample } from '../helpers/fixtures.js';
import { postGitHub, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { tempDir } from '../workspace/helpers.js';
import { ACCEPTANCE_YAML, FIX, PROTECTED, WRONG_FIX, agentFile } from './harness.js';

const run = promisify(execFile);
const INSTALLATION = 4242;

describe('the pipeline on GitHub', () => {
  let app: TestApp | undefined;
  let dir: { path: string; cleanup: () => Promise<void> };
  let github: FakeGitHub;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-pipeline-github-');
    github = new FakeGitHub('Codertocat/Hello-World', INSTALLATION).install();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  it('opens one pull request with the right fix and the candidates table, from a labeled issue', async () => {
    const work = join(dir.path, 'sample');
    await mkdir(work);
    await createSampleRepository(work);
    const bare = join(dir.path, 'sample.git');
    await run('git', ['clone', '--quiet', '--bare', work, bare]);

    const labeled = githubExample('issues', (e) => e.action === 'labeled');
    labeled.issue.labels.push({ ...labeled.label, id: 9001, name: 'doom' }, { ...labeled.label, id: 9002, name: 'bug' });
    labeled.label = { ...labeled.label, name: 'doom' };
    labeled.issue.body = `add() subtracts.\n\n\`\`\`yaml\n${ACCEPTANCE_YAML}\`\`\`\n`;
    labeled.installation = { id: INSTALLATION };
    labeled.repository = { ...labeled.repository, clone_url: `file://${bare}`, default_branch: 'main' };

    app = await startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        loaded.agents = [
          agentFile('agent-a-wrong', { implement: WRONG_FIX }),
          agentFile('agent-b-right', { implement: FIX }),
          agentFile('agent-c-ci', { implement: `${FIX} ${PROTECTED}` }),
        ];
        loaded.config.coordinator.max_concurrent_agents = 1;
        loaded.config.repositories = { 'Codertocat/Hello-World': { commands: sampleCommands } };
        loaded.config.pipeline = pipelineConfig.parse({ enabled: true, parallel: 1, policies: { P2: { candidates: 3, stopping: { stop_on_first_pass: false } } } });
      },
    });
    await postGitHub(app.url, 'issues', github.issueFrom(labeled));
    const task = await waitFor(
      async () => {
        const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
        return t && ['completed', 'failed'].includes(t.status) ? t : undefined;
      },
      'the task to end',
      6_000,
    );
    await app.runs.idle();
    expect(task).toMatchObject({ status: 'completed', type: 'bugfix', assigned_agent: 'agent-a-wrong' });

    expect(github.pulls).toHaveLength(1);
    const pull = github.pulls[0]!;
    expect(pull.body).toContain('Closes #1');
    expect(pull.body).toContain('- [x] add(2, 2) returns 4 — the oracle test `test/issue.test.js` passes and the suite is no worse than on the base');
    for (const agent of ['agent-a-wrong', 'agent-b-right', 'agent-c-ci']) expect(pull.body).toContain(`\`${agent}\``);
    expect(pull.body).toMatch(/\| 2 ★ \| `agent-b-right` \|/);
    expect(await git(['--git-dir', bare, 'show', `${task.branch}:src/math.js`])).toContain('return a + b;');
    expect(await git(['--git-dir', bare, 'for-each-ref', '--format=%(refname)', 'refs/heads'])).toBe(`refs/heads/${task.branch}\nrefs/heads/main`);

    const db = app.store.db;
    expect((await candidatesOfTask(db, task.id)).map((c) => [c.agent_name, c.passed, c.selected])).toEqual([
      ['agent-a-wrong', 0, 0],
      ['agent-b-right', 1, 1],
      ['agent-c-ci', 0, 0],
    ]);
    expect((await headToHead(db, task.id)).map((p) => p.winner_agent)).toEqual(['agent-b-right', 'agent-c-ci', 'agent-b-right']);
    const state = (await latestExecution(db, task.id))!;
    expect(state.phases.merge).toMatchObject({ status: 'done', outcome: 'pushed' });
    expect(state.budget.spent.usd).toBeCloseTo(0.04);
  }, 180_000);
});
