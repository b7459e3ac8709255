/**
 * Which GitHub CI evidence counts, and how it is read, with signed payloads from
 * @octokit/webhooks-examples through the HTTP server: workflow runs carry the reports, a
 * check suite of another App (Codecov) and a commit status carry a verdict only, and neither
 * is compared with workflow-run ids or has artifacts fetched as a workflow run's.
 */
import nock from 'nock';
import { githubExample } from '../helpers/fixtures.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postGitHub, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { buildZip } from '../forges/github/zip-writer.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';
import { git } from '../../src/workspace/git.js';
import { onlyLocalNetwork } from '../helpers/network.js';

type Payload = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data
const INSTALLATION = 4242;
const RUN = 13867513069;
const BASE_RUN = 13867400001;
const CODECOV_SUITE = 32733614876;
const lcov = (hit: number) =>
  `TN:\nSF:src/index.ts\n${Array.from({ length: 10 }, (_, i) => `DA:${i + 1},${i < hit ? 1 : 0}\n`).join('')}LF:10\nLH:${hit}\nend_of_record\n`;

const example = githubExample;

describe('GitHub: which CI evidence counts for a pull request', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let github: FakeGitHub;
  let repository: Payload;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-ghmatch-');
    remote = await createRemote(dir.path);
    github = new FakeGitHub('Codertocat/Hello-World', INSTALLATION).install();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  /** The task runs to its pull request (#2); main has a successful push run with a coverage report. */
  async function openPull() {
    app = await startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        for (const a of loaded.agents) a.runner = { kind: 'scripted', script: ['node', '-e', "require('fs').appendFileSync('README.md', 'fixed\\n')"] };
      },
    });
    const labeled = example('issues', (e) => e.action === 'labeled');
    labeled.issue.labels.push({ ...labeled.label, id: 9001, name: 'doom' });
    labeled.label = { ...labeled.label, name: 'doom' };
    labeled.installation = { id: INSTALLATION };
    labeled.repository = { ...labeled.repository, clone_url: `file://${remote.bare}`, default_branch: 'main' };
    repository = labeled.repository;
    await postGitHub(app.url, 'issues', github.issueFrom(labeled));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' ? t : undefined;
    }, 'the pull request');
    await app.runs.idle();
    github.pulls[0]!.head.sha = task.head_sha!;
    const mainSha = await git(['--git-dir', remote.bare, 'rev-parse', 'main']);
    github.workflowRuns.push({ id: BASE_RUN, head_sha: mainSha, head_branch: 'main', event: 'push', conclusion: 'success' });
    github.artifacts.set(BASE_RUN, new Map([['coverage', buildZip([{ name: 'lcov.info', data: lcov(8) }])]]));
    return task;
  }

  function workflowRun(task: { head_sha: string | null; branch: string | null }, conclusion = 'success') {
    const run = example('workflow_run', (e) => e.action === 'completed' && e.workflow_run.conclusion === 'success' && e.workflow_run.pull_requests.length > 0);
    Object.assign(run.workflow_run, { id: RUN, head_sha: task.head_sha, head_branch: task.branch, conclusion });
    run.workflow_run.pull_requests[0].number = 2;
    run.repository = repository;
    run.installation = { id: INSTALLATION };
    github.artifacts.set(
      RUN,
      new Map([
        ['coverage', buildZip([{ name: 'lcov.info', data: lcov(9) }])],
        ['lint', buildZip([{ name: 'eslint-report.json', data: '[]' }])],
        ['sast', buildZip([{ name: 'results.sarif', data: JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'semgrep' } }, results: [] }] }) }])],
      ]),
    );
    return run;
  }

  /** Codecov's own check suite (not GitHub Actions), as its App's deliveries carry it. */
  function codecovSuite(task: { head_sha: string | null; branch: string | null }, conclusion: string) {
    const suite = example('check_suite', (e) => e.action === 'completed' && e.check_suite.pull_requests.length > 0);
    suite.check_suite = {
      ...suite.check_suite,
      id: CODECOV_SUITE,
      head_sha: task.head_sha,
      head_branch: task.branch,
      conclusion,
      app: { ...suite.check_suite.app, id: 254, slug: 'codecov', name: 'Codecov' },
    };
    suite.check_suite.pull_requests[0].number = 2;
    suite.repository = repository;
    suite.installation = { id: INSTALLATION };
    return suite;
  }

  function commitStatus(task: { head_sha: string | null }, id: number, context: string, state: string) {
    const status = example('status');
    Object.assign(status, { id, sha: task.head_sha, context, state, target_url: `https://ci.example.com/job/${id}`, repository, installation: { id: INSTALLATION } });
    return status;
  }

  const reward = () => app!.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();
  const components = async () => JSON.parse((await reward()).components) as Record<string, number>;
  const artifactListings = () => github.made('GET', /\/actions\/runs\/\d+\/artifacts$/).map((c) => Number(c.path.split('/').at(-2)));

  it('a Codecov check suite completing after the merge leaves the final reward as it was', async () => {
    const task = await openPull();
    await postGitHub(app!.url, 'workflow_run', workflowRun(task));
    await settled(app!);
    expect(await reward()).toMatchObject({ kind: 'provisional', degraded: 0 });

    Object.assign(github.pulls[0]!, { state: 'closed', merged_at: '2026-11-21T11:00:00Z' });
    const closed = example('pull_request', (e) => e.action === 'closed');
    closed.number = 2;
    Object.assign(closed.pull_request, { number: 2, merged: true, merged_at: '2026-11-21T11:00:00Z', state: 'closed' });
    closed.pull_request.head = { ...closed.pull_request.head, ref: task.branch, sha: task.head_sha };
    closed.repository = repository;
    closed.installation = { id: INSTALLATION };
    await postGitHub(app!.url, 'pull_request', closed);
    await settled(app!);
    const final = await reward();
    expect(final).toMatchObject({ kind: 'final', degraded: 0 });
    expect(JSON.parse(final.components)).toMatchObject({ ci_pipeline_status: 1, lint_score: 1, security_scan_score: 1, test_coverage_delta: 1 });

    // Its id is larger than any workflow run's; it must not pass for a newer run.
    await postGitHub(app!.url, 'check_suite', codecovSuite(task, 'success'));
    await settled(app!);
    const after = await reward();
    expect({ reward: after.reward, kind: after.kind, degraded: after.degraded, components: after.components }).toEqual({
      reward: final.reward,
      kind: 'final',
      degraded: 0,
      components: final.components,
    });
    expect(artifactListings()).not.toContain(CODECOV_SUITE);
    const evaluation = await app!.store.db.selectFrom('evaluations').selectAll().executeTakeFirstOrThrow();
    expect(evaluation).toMatchObject({ pipeline_id: RUN, pipeline_status: 'success', errors: 0 });
    // The workflow run redelivered after the suite is still a redelivery: its reports are not read again.
    const listings = artifactListings().length;
    await postGitHub(app!.url, 'workflow_run', workflowRun(task));
    await settled(app!);
    expect(artifactListings()).toHaveLength(listings);
  });

  it('a failing check suite or commit status gives the CI component and leaves coverage and lint alone', async () => {
    const task = await openPull();
    await postGitHub(app!.url, 'workflow_run', workflowRun(task));
    await settled(app!);
    const provisional = await reward();
    const read = JSON.parse(provisional.components);
    expect(read).toMatchObject({ ci_pipeline_status: 1, lint_score: 1, test_coverage_delta: 1 });

    await postGitHub(app!.url, 'check_suite', codecovSuite(task, 'failure'));
    await settled(app!);
    expect(await components()).toEqual({ ...read, ci_pipeline_status: 0 });
    expect((await reward()).degraded).toBe(0);

    // Codecov passes on a re-run; a Jenkins status then fails, then passes.
    const passed = codecovSuite(task, 'success');
    passed.check_suite.id = CODECOV_SUITE + 1;
    await postGitHub(app!.url, 'check_suite', passed);
    await settled(app!);
    expect(await components()).toEqual(read);
    await postGitHub(app!.url, 'status', commitStatus(task, 6805126731, 'continuous-integration/jenkins', 'failure'));
    await settled(app!);
    expect(await components()).toEqual({ ...read, ci_pipeline_status: 0 });
    await postGitHub(app!.url, 'status', commitStatus(task, 6805126732, 'continuous-integration/jenkins', 'success'));
    await settled(app!);
    const last = await reward();
    expect({ reward: last.reward, degraded: last.degraded, components: JSON.parse(last.components) }).toEqual({
      reward: provisional.reward,
      degraded: 0,
      components: read,
    });
    // Only the workflow run's artifacts were ever listed.
    expect(new Set(artifactListings())).toEqual(new Set([RUN, BASE_RUN]));
  });

  it('a status-only CI gives the CI component; the reports it lacks are said to be missing, nothing is fetched for them', async () => {
    const task = await openPull();
    await postGitHub(app!.url, 'status', commitStatus(task, 6805126733, 'continuous-integration/jenkins', 'success'));
    await settled(app!);
    const provisional = await reward();
    expect(provisional).toMatchObject({ kind: 'provisional', degraded: 1 });
    expect(JSON.parse(provisional.components)).toMatchObject({ ci_pipeline_status: 1, lint_score: 0.5, code_complexity_delta: 0 });
    expect(artifactListings()).toEqual([]);
    const comment = github.comments.get(2)![0]!.body;
    expect(comment).toContain('only a check suite or commit status has finished for the head commit');
    expect(comment).toContain('https://ci.example.com/job/6805126733');

    // A workflow run with reports arrives after: its reports are read, the status still counts.
    await postGitHub(app!.url, 'workflow_run', workflowRun(task));
    await settled(app!);
    expect(await reward()).toMatchObject({ degraded: 0 });
    expect(await components()).toMatchObject({ ci_pipeline_status: 1, lint_score: 1, test_coverage_delta: 1 });
  });
});
