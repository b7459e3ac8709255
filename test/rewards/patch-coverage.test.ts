/**
 * Patch coverage through the whole evaluator, on both forges: the agent's change (real git,
 * read back from the bot's mirror), the head pipeline's coverage report with per-line data
 * (LCOV with a CI runner's absolute paths on GitHub, Cobertura on GitLab), the target
 * branch's coverage, and the reward and report that come of them. Payloads are the published
 * examples, signed and sent through the HTTP server; only the forge APIs are faked.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFile } from '../../src/agents/schema.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { git } from '../../src/workspace/git.js';
import { githubExample, gitlabFixture } from '../helpers/fixtures.js';
import { postGitHub, postGitLab, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { buildZip } from '../forges/github/zip-writer.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';

type Payload = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data

/** The agent writes a 4-line file; lines 1–3 are executable, the closing brace is not. */
const writes = (path: string, source: string) => (loaded: LoadedConfig) => {
  for (const a of loaded.agents as AgentFile[]) {
    a.runner = {
      kind: 'scripted',
      script: ['node', '-e', `require('fs').mkdirSync('src',{recursive:true}); require('fs').writeFileSync(${JSON.stringify(path)}, ${JSON.stringify(source)})`],
    };
  }
};

/** An LCOV tracefile: `files` maps a path to its hits per line (index 0 is line 1; null: not instrumented). */
const lcov = (files: Record<string, (number | null)[]>) =>
  Object.entries(files)
    .map(([path, hits]) => {
      const da = hits.flatMap((h, i) => (h === null ? [] : [`DA:${i + 1},${h}`]));
      return ['TN:', `SF:${path}`, ...da, `LF:${da.length}`, `LH:${hits.filter((h) => h !== null && h > 0).length}`, 'end_of_record'].join('\n');
    })
    .join('\n');

let app: TestApp | undefined;
let remote: Remote;
let dir: { path: string; cleanup: () => Promise<void> };

onlyLocalNetwork();
beforeEach(async () => {
  dir = await tempDir('doom-patch-');
  remote = await createRemote(dir.path);
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  nock.cleanAll();
  await dir.cleanup();
});

const reward = () => app!.store.db.selectFrom('rewards').selectAll().executeTakeFirstOrThrow();

describe('GitHub: a well-tested fix, scored by its patch coverage', () => {
  const INSTALLATION = 4242;
  const RUN = 13867513069;
  const BASE_RUN = 13867400001;
  /** Where Actions checks the repository out: the paths coverage tools write. */
  const CHECKOUT = '/home/runner/work/Hello-World/Hello-World';

  it('every changed line covered: +1 for coverage against the target branch, in the reward and the report', async () => {
    const github = new FakeGitHub('Codertocat/Hello-World', INSTALLATION).install();
    app = await startTestApp({ executor: 'local', tweak: writes('src/fix.js', 'export function fix(n) {\n  if (n > 1) return n;\n  return 1;\n}\n') });
    const labeled = githubExample('issues', (e) => e.action === 'labeled');
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
    const pull = github.pulls[0]!;
    pull.head.sha = task.head_sha!;

    // main: src/index.ts 8 of 10 lines covered (80%).
    const mainSha = await git(['--git-dir', remote.bare, 'rev-parse', 'main']);
    const index = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
    github.workflowRuns.push({ id: BASE_RUN, head_sha: mainSha, head_branch: 'main', event: 'push', conclusion: 'success' });
    github.artifacts.set(BASE_RUN, new Map([['coverage', buildZip([{ name: 'lcov.info', data: lcov({ [`${CHECKOUT}/src/index.ts`]: index }) }])]]));

    // The PR's run: the new file's three executable lines all run.
    const run = githubExample('workflow_run', (e) => e.action === 'completed' && e.workflow_run.conclusion === 'success' && e.workflow_run.pull_requests.length > 0);
    Object.assign(run.workflow_run, { id: RUN, head_sha: task.head_sha, head_branch: task.branch });
    run.workflow_run.pull_requests[0].number = 2;
    run.repository = labeled.repository;
    run.installation = { id: INSTALLATION };
    const head = lcov({ [`${CHECKOUT}/src/index.ts`]: index, [`${CHECKOUT}/src/fix.js`]: [3, 2, 1, null] });
    github.artifacts.set(
      RUN,
      new Map([
        ['coverage', buildZip([{ name: 'lcov.info', data: head }])],
        ['lint', buildZip([{ name: 'eslint-report.json', data: '[]' }])],
        ['sast', buildZip([{ name: 'results.sarif', data: JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'semgrep' } }, results: [] }] }) }])],
      ]),
    );
    await postGitHub(app.url, 'workflow_run', run);
    await settled(app);
    const provisional = await reward();
    expect(provisional).toMatchObject({ kind: 'provisional', degraded: 0 });
    // The project moved from 80% to 11 of 13 lines (84.6%): 0.46 on the old scale; the patch is 3/3.
    expect(JSON.parse(provisional.components)).toMatchObject({ test_coverage_delta: 1, ci_pipeline_status: 1, lint_score: 1, security_scan_score: 1 });
    const evaluation = await app.store.db.selectFrom('evaluations').selectAll().executeTakeFirstOrThrow();
    expect(JSON.parse(evaluation.signals).patch).toEqual({ coverable: 3, covered: 3 });

    github.permissions.set('octocat', 'write');
    github.reviews.set(2, [{ id: 2, user: { login: 'octocat', id: 583231, type: 'User' }, state: 'APPROVED', submitted_at: '2026-11-21T10:05:00Z', commit_id: task.head_sha! }]);
    Object.assign(pull, { state: 'closed', merged_at: '2026-11-21T11:00:00Z' });
    const closed: Payload = githubExample('pull_request', (e) => e.action === 'closed');
    closed.number = 2;
    Object.assign(closed.pull_request, { number: 2, merged: true, merged_at: pull.merged_at, state: 'closed' });
    closed.pull_request.head = { ...closed.pull_request.head, ref: task.branch, sha: task.head_sha };
    closed.repository = labeled.repository;
    closed.installation = { id: INSTALLATION };
    await postGitHub(app.url, 'pull_request', closed);
    await settled(app);

    const final = await reward();
    expect(final).toMatchObject({ kind: 'final', mr_state: 'merged', degraded: 0 });
    // A new file of complexity 2: delta −2/20 = −0.1, scored 0.8. Review: approval + merge = 0.7.
    // 5 × (0.3 × 1 + 0.2 + 0.2 + 0.1 × 0.8 + 0.1 + 0.1 × 0.7) = 4.75: over the principal threshold.
    expect(final.reward).toBe(4.75);
    const report = github.comments.get(2)![0]!.body;
    expect(report).toContain("| Test coverage | +1.00 (patch 3/3 changed lines, 100.0%, against the target branch's 80.0%) | +1.00 | 0.30 | +1.50 |");
    expect(report).toContain('### doom-rlvr reward: +4.75 (final)');
  });
});

describe('GitLab: a half-tested change, scored by its patch coverage', () => {
  const greet = 'export function greet(name) {\n  if (!name) return "hello";\n  return "hello " + name;\n}\n';
  /** Cobertura as coverage.py or Istanbul write it in a GitLab job: an absolute <source>, relative filenames. */
  const cobertura = `<?xml version="1.0" ?>
<coverage lines-valid="3" lines-covered="2" line-rate="0.6667" version="7.6.1">
  <sources><source>/builds/gitlab-org/gitlab-test</source></sources>
  <packages><package name="src"><classes>
    <class name="greet.js" filename="src/greet.js" line-rate="0.5"><methods/><lines>
      <line number="2" hits="4"/><line number="3" hits="0"/>
    </lines></class>
    <class name="index.ts" filename="src/index.ts" line-rate="1"><methods/><lines><line number="1" hits="1"/></lines></class>
  </classes></package></packages>
</coverage>`;

  it('half the changed lines covered against a project at 80%: −0.375, and the figure-only fallback is not used', async () => {
    const gitlab = new FakeGitLab().install();
    gitlab.members.set('alice', { id: 7, username: 'alice', access_level: 30 });
    app = await startTestApp({ executor: 'local', tweak: writes('src/greet.js', greet) });
    const issue = labeledIssue(`file://${remote.bare}`);
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(issue));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t?.status === 'completed' ? t : undefined;
    }, 'the merge request');
    await app.runs.idle();
    gitlab.mergeRequests[0]!.sha = task.head_sha;
    const mainSha = await git(['--git-dir', remote.bare, 'rev-parse', 'main']);
    gitlab.pipelines.push(
      { id: 100, sha: mainSha, ref: 'main', status: 'success', coverage: '80.0', jobs: [{ id: 1001, name: 'code_quality', files: { 'gl-code-quality-report.json': '[]' } }] },
      {
        id: 200,
        sha: task.head_sha!,
        ref: 'refs/merge-requests/1/head',
        status: 'success',
        // The figure says +10 points (a full +1 on the project scale); the report's lines say otherwise.
        coverage: '90.0',
        jobs: [
          { id: 2000, name: 'test', files: { 'coverage/cobertura-coverage.xml': cobertura } },
          { id: 2001, name: 'code_quality', files: { 'gl-code-quality-report.json': '[]' } },
        ],
      },
    );
    const hook = gitlabFixture('pipeline-hook.json');
    hook.project = issue.project;
    hook.object_attributes = {
      ...hook.object_attributes,
      id: 200,
      iid: 200,
      sha: task.head_sha,
      status: 'success',
      coverage: '90.0',
      ref: 'refs/merge-requests/1/head',
      url: `${issue.project.web_url}/-/pipelines/200`,
    };
    hook.merge_request = { ...hook.merge_request, iid: 1 };
    await postGitLab(app.url, 'Pipeline Hook', hook);
    await settled(app);

    const provisional = await reward();
    // Patch: lines 2 and 3 of greet.js are instrumented, line 2 ran: 50% against the target
    // branch's 80%, (50 − 80) / 80 = −0.375.
    expect(JSON.parse(provisional.components)).toMatchObject({ test_coverage_delta: -0.375, ci_pipeline_status: 1, lint_score: 1 });
    // No security report: that default alone is degraded.
    expect(provisional).toMatchObject({ kind: 'provisional', degraded: 1 });
    // 5 × (0.3 × −0.375 + 0.2 × 1 + 0.2 × 0 + 0.1 × 0.8 + 0.1 × 1 + 0) = 1.3375
    expect(provisional.reward).toBe(1.3375);
    const note = gitlab.notes.get('/api/v4/projects/1/merge_requests/1/notes')?.[0]?.body ?? '';
    expect(note).toContain("| Test coverage | -0.38 (patch 1/2 changed lines, 50.0%, against the target branch's 80.0%) | -0.38 | 0.30 | -0.56 |");
  });
});
