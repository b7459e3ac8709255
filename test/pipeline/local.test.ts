/**
 * The pipeline end to end on the local forge: spec from the acceptance list, the
 * oracle written first and run by the bot on the base, three candidates from three agents
 * (a right fix, a wrong fix the suite does not catch, a fix that touches CI), review and
 * selection, the winner's merge request with the docs, the losers kept as records.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { status } from '../../src/cli/commands.js';
import { candidates as candidatesCommand } from '../../src/cli/pipeline.js';
import { readEnvironment } from '../../src/config/env.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { getLocalMergeRequest } from '../../src/store/local.js';
import { candidatesOfTask, headToHead, latestExecution, pipelineSummary } from '../../src/store/pipeline.js';
import { getTask } from '../../src/store/tasks.js';
import { git } from '../../src/workspace/git.js';
import { FIX, NOT_REPRODUCE, PROTECTED, WRONG_FIX, pipelineWorld, type PipelineWorld } from './harness.js';

let world: PipelineWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('the pipeline on the local forge', () => {
  it('picks the right fix among three candidates and publishes it with the docs; the losers stay as records', async () => {
    // `agent-a-wrong` has the fewest tasks and the first name: the router gives it the task, so it writes the oracle.
    world = await pipelineWorld({
      'agent-a-wrong': { implement: WRONG_FIX },
      'agent-b-right': { implement: FIX },
      'agent-c-ci': { implement: `${FIX} ${PROTECTED}` },
    });
    const db = world.core.store.db;
    const id = await world.runTask('bug-1');

    const task = (await getTask(db, id))!;
    expect(task).toMatchObject({ status: 'completed', assigned_agent: 'agent-a-wrong', pr_number: 1 });
    // The branch holds the reproducing test and the right fix, and nothing of the others.
    expect(await git(['show', `${task.branch}:src/math.js`], { cwd: world.repo })).toContain('return a + b;');
    expect(await git(['show', `${task.branch}:test/issue.test.js`], { cwd: world.repo })).toContain('add(2, 2) is 4');
    expect(await git(['ls-tree', '-r', '--name-only', task.branch!], { cwd: world.repo })).not.toContain('.github/workflows/ci.yml');
    // No candidate branches on the "forge".
    expect((await git(['branch', '--format=%(refname:short)'], { cwd: world.repo })).split('\n').sort()).toEqual([task.branch, 'main']);

    const candidates = await candidatesOfTask(db, id);
    expect(candidates.map((c) => [c.agent_name, c.checks && { guards: c.checks.guards, oracle: c.checks.oracle, suite: c.checks.suite }, c.passed, c.selected])).toEqual([
      ['agent-a-wrong', { guards: 'pass', oracle: 'fail', suite: 'pass' }, 0, 0],
      ['agent-b-right', { guards: 'pass', oracle: 'pass', suite: 'pass' }, 1, 1],
      ['agent-c-ci', { guards: 'fail', oracle: 'pass', suite: 'pass' }, 0, 0],
    ]);
    expect(candidates.every((c) => c.patch !== null && c.tokens === 1200 && c.cost_usd === 0.01)).toBe(true);

    // Head to head: the right fix beat both; the CI-toucher beat the wrong fix on the oracle.
    const pairs = (await headToHead(db, id)).map((p) => [p.winner_agent, p.loser_agent, p.reason]);
    expect(pairs).toEqual([
      ['agent-b-right', 'agent-a-wrong', 'critical gates'],
      ['agent-c-ci', 'agent-a-wrong', 'oracle'],
      ['agent-b-right', 'agent-c-ci', 'critical gates'],
    ]);

    const state = (await latestExecution(db, id))!;
    expect(Object.fromEntries(Object.entries(state.phases).map(([p, r]) => [p, `${r.status}:${r.outcome}`]))).toEqual({
      spec: 'done:from_issue',
      tests: 'done:reproduced',
      implement: 'done:made',
      review: 'done:selected',
      repair: 'skipped:not_needed',
      merge: 'done:pushed',
      docs: 'done:written',
    });
    expect(state.spec!.acceptance.map((c) => c.text)).toEqual(['add(2, 2) returns 4', 'sum() of a list adds it up']);
    expect(state.spec!.oracle).toMatchObject({ files: ['test/issue.test.js'], base: 'fails' });
    expect(state.gates_passed).toEqual(['guards', 'oracle', 'suite', 'lint']);
    expect(state.budget.spent.tokens).toBe(4 * 1200);
    expect(state.phases.implement!.budget).toMatchObject({ tokens: 300_000 });
    expect(state.implementation!.selected).toBe(1);

    // The sticky comment shows the criteria the spec phase took from the issue.
    const comment = await db.selectFrom('local_comments').select('body').where('thread', '=', `issue:${task.issue_number}`).executeTakeFirstOrThrow();
    expect(comment.body).toContain('**Acceptance criteria**\n\n- add(2, 2) returns 4\n- sum() of a list adds it up');

    const mr = (await getLocalMergeRequest(db, world.repo, 1))!;
    expect(mr.body).toContain('## How this change was chosen');
    expect(mr.body).toContain('## Summary\n\nCandidate #2 by `agent-b-right`, chosen among 3 by the bot\'s own checks.');
    expect(mr.body).toContain('- [x] add(2, 2) returns 4 — the oracle test `test/issue.test.js` passes and the suite is no worse than on the base');
    expect(mr.body).toContain('| base commit | fails (the issue is reproduced) |');
    expect(mr.body).toContain('| this change | passes |');
    expect(mr.body).toMatch(/\| 1 \| `agent-a-wrong` \| implement \| success \| \*\*fail\*\* \| pass \| pass \| pass \| 2 lines \| \$0\.0100 \|/);
    expect(mr.body).toMatch(/\| 2 ★ \| `agent-b-right` \|/);
    expect(mr.body).toMatch(/\| 3 \| `agent-c-ci` \| .* \| \*\*fail\*\* \|/);
    expect(mr.body).toContain('### Why #2 won');
    expect(mr.body).toContain('over #3 (agent-c-ci): it passes the critical gates and #3 does not (guards)');
    expect(mr.body).toMatch(/1 of 1 changed lines the coverage report instruments ran under the tests \(100\.0%\)/);

    const summary = await pipelineSummary(db);
    expect(summary).toMatchObject({ executions: 1, pass_at_1: 0, pass_at_k: 1 });
    expect(summary.cost_usd).toBeCloseTo(0.04);
    // The right fix passes the suite where the base fails: the base was run again, and failed again.
    expect(summary).toMatchObject({ suite_reruns: 1, flaky_reruns: 0, flake_rate: 0 });

    // What an operator sees: `doom candidates`, `doom status` and /metrics.
    const ctx = { ...world.core, env: readEnvironment({ DATABASE_URL: join(world.dir, 'doom.db') }), loaded: { config: world.config, agents: [], configPath: '', agentsDir: '' } };
    const table = await candidatesCommand(ctx, 'bug-1', 'table');
    expect(table).toMatch(/^1\s+1\s+agent-a-wrong\s+implement\s+success\s+fail\s+pass\s+pass\s+pass\s+2\s+\$0\.0100\s+1\s+[0-9a-f]{10}$/m);
    expect(table).toMatch(/^1\s+2\s+agent-b-right\s+implement\s+success\s+pass\s+pass\s+pass\s+pass\s+2\s+\$0\.0100\s+2\s+[0-9a-f]{10}\s+winner$/m);
    expect(table).toContain('agent-b-right (#2) beat agent-a-wrong (#1) on critical gates');
    expect(JSON.parse(await candidatesCommand(ctx, String(id), 'json')).candidates).toHaveLength(3);
    await expect(candidatesCommand(ctx, 'bug-99', 'table')).rejects.toThrow('task bug-99 does not exist');
    expect(await status(ctx, 'table')).toMatch(/^pipeline {3}1 executions, pass@1 0%, pass@k 100%, cost \$0\.0400 \(mean \$0\.0400\), mean latency [\d.]+ s, flake rate 0% of 1 re-runs$/m);
    const metrics = await createMetrics(db, world.config).metrics();
    expect(metrics).toContain('doom_pipeline_pass_at_1 0');
    expect(metrics).toContain('doom_pipeline_pass_at_k 1');
    expect(metrics).toContain('doom_pipeline_suite_reruns_total{flaky="false"} 1');
    expect(metrics).toContain('doom_pipeline_latency_seconds_count 1');
  }, 180_000);

  it('stops making candidates once one passes every gate (the stopping rule)', async () => {
    world = await pipelineWorld({ 'agent-a-right': { implement: FIX }, 'agent-b': { implement: WRONG_FIX } }, (c) => {
      c.pipeline!.policies!.P2!.stopping = { stop_on_first_pass: true };
    });
    const db = world.core.store.db;
    const id = await world.runTask('bug-11');
    expect((await candidatesOfTask(db, id)).map((c) => [c.agent_name, c.passed])).toEqual([['agent-a-right', 1]]);
    const state = (await latestExecution(db, id))!;
    expect(state.phases.implement).toMatchObject({ status: 'done', outcome: 'stopped_on_pass', note: 'a candidate passed every gate; 2 candidate(s) not made' });
    expect(await pipelineSummary(db)).toMatchObject({ pass_at_1: 1, pass_at_k: 1 });
  }, 120_000);

  it('never pushes a protected change under on_protected_change = refuse, even with the guards gate only a warning', async () => {
    world = await pipelineWorld({ 'agent-a': { implement: `${FIX} ${PROTECTED}` } }, (c) => {
      c.pipeline!.policies!.P2!.candidates = 1;
      c.pipeline!.policies!.P2!.repair = { max_rounds: 0 };
      c.pipeline!.policies!.P2!.rubric = { gates: { guards: 'warn' } };
    });
    const db = world.core.store.db;
    const id = await world.runTask('bug-12');
    const task = (await getTask(db, id))!;
    expect(task).toMatchObject({ status: 'failed', pr_number: null });
    const state = (await latestExecution(db, id))!;
    expect(state.phases.review).toMatchObject({ outcome: 'no_passing_candidate' });
    expect(state.phases.merge).toMatchObject({ status: 'failed', outcome: 'no_passing_candidate' });
    expect(task.error_message).toBe('no candidate passed the critical gates (#1 agent-a: guards)');
    expect(await git(['branch', '--format=%(refname:short)'], { cwd: world.repo })).toBe('main');
  }, 120_000);

  it('reports "could not reproduce" when the oracle passes on the base, and makes no candidate', async () => {
    world = await pipelineWorld({ 'agent-a': { tests: NOT_REPRODUCE, implement: FIX } });
    const db = world.core.store.db;
    const id = await world.runTask('bug-2');
    const task = (await getTask(db, id))!;
    expect(task.status).toBe('failed');
    expect(task.error_message).toBe('could not reproduce: the test written for the issue (test/issue.test.js) passes on the base commit');
    expect(await candidatesOfTask(db, id)).toEqual([]);
    const state = (await latestExecution(db, id))!;
    expect(state.phases.tests).toMatchObject({ status: 'failed', outcome: 'could_not_reproduce' });
    expect(state.phases.implement).toMatchObject({ status: 'skipped', note: 'after tests, which failed' });
    expect(state.spec!.oracle).toMatchObject({ base: 'passes' });
  }, 120_000);

  it('has the spec step write the acceptance criteria when the issue has none, and commits none of it', async () => {
    const spec = `fs.writeFileSync('ACCEPTANCE.md', '# Acceptance\\n\\n- add(2, 2) returns 4\\n- [ ] sum([1, 2]) returns 3\\n');`;
    world = await pipelineWorld({ 'agent-a': { spec, implement: FIX } }, (c) => {
      c.pipeline!.policies!.P2!.candidates = 1;
    });
    const db = world.core.store.db;
    const id = await world.runTask('bug-7', 'task:\n  type: bugfix\n  description: add() subtracts\n');
    const state = (await latestExecution(db, id))!;
    expect(state.phases.spec).toMatchObject({ status: 'done', outcome: 'from_agent', tokens: 1200 });
    expect(state.spec).toMatchObject({ source: 'agent', acceptance: [{ id: 'AC1', text: 'add(2, 2) returns 4' }, { id: 'AC2', text: 'sum([1, 2]) returns 3' }] });
    const task = (await getTask(db, id))!;
    expect(task.status).toBe('completed');
    expect(await git(['ls-tree', '-r', '--name-only', task.branch!], { cwd: world.repo })).not.toContain('ACCEPTANCE.md');
    expect((await getLocalMergeRequest(db, world.repo, task.pr_number!))!.body).toContain('<sub>Criteria from the spec step. The bot cannot tell which criterion a test covers');
  }, 120_000);

  it('does not read back a spec note that links outside the worktree', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'doom-secret-'));
    const secret = join(outside, 'secret.md');
    await writeFile(secret, '- TOPSECRET-TOKEN\n');
    try {
      world = await pipelineWorld({ 'agent-a': { spec: `fs.symlinkSync(${JSON.stringify(secret)}, 'ACCEPTANCE.md');`, implement: FIX } }, (c) => {
        c.pipeline!.policies!.P2!.candidates = 1;
      });
      const db = world.core.store.db;
      const id = await world.runTask('bug-10', 'task:\n  type: bugfix\n  description: add() subtracts\n');
      const state = (await latestExecution(db, id))!;
      expect(state.spec).toMatchObject({ source: 'title' });
      expect(JSON.stringify(state)).not.toContain('TOPSECRET');
      const task = (await getTask(db, id))!;
      expect((await getLocalMergeRequest(db, world.repo, task.pr_number!))!.body).not.toContain('TOPSECRET');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  }, 120_000);

  it('repairs the best candidate with the failing output in its prompt, and publishes the repair', async () => {
    const repair = `fs.writeFileSync('src/math.js', fs.readFileSync('src/math.js', 'utf8').replace('return Math.abs(a - b);', 'return a + b;'));`;
    world = await pipelineWorld({ 'agent-a': { implement: WRONG_FIX, repair } }, (c) => {
      c.pipeline!.policies!.P2!.candidates = 1;
      c.pipeline!.push_candidates = true;
    });
    const db = world.core.store.db;
    const id = await world.runTask('bug-3');
    expect((await getTask(db, id))!).toMatchObject({ status: 'completed', error_message: null });
    const candidates = await candidatesOfTask(db, id);
    expect(candidates.map((c) => [c.variant, c.passed, c.selected])).toEqual([
      ['implement', 0, 0],
      ['repair-1', 1, 1],
    ]);
    expect(candidates[1]!.transcript).toContain('failing output quoted: true');
    const state = (await latestExecution(db, id))!;
    expect(state.phases.review).toMatchObject({ outcome: 'no_passing_candidate' });
    expect(state.phases.repair).toMatchObject({ status: 'done', outcome: 'repaired' });
    expect(await git(['show', `doom/${id}-add-subtracts:src/math.js`], { cwd: world.repo })).toContain('return a + b;');
    // push_candidates: the loser is on the forge too, beside the task's branch.
    expect(await git(['show', `doom/${id}-add-subtracts--c1:src/math.js`], { cwd: world.repo })).toContain('return Math.abs(a - b);');
  }, 120_000);

  it('stops a phase whose budget runs out and keeps its work in the store', async () => {
    world = await pipelineWorld({ 'agent-a': { implement: FIX, usage: { input_tokens: 90_000, output_tokens: 0, cost_usd: 0.01 } } }, (c) => {
      c.pipeline!.policies!.P2!.budget = {
        total: { tokens: 200_000, usd: 5, wall_ms: 1_800_000 },
        phases: { tests: { tokens: 100_000, usd: 1, wall_ms: 400_000 }, implement: { tokens: 60_000, usd: 1, wall_ms: 600_000 } },
      };
    });
    const db = world.core.store.db;
    const id = await world.runTask('bug-4');
    const [kept] = await candidatesOfTask(db, id);
    expect(kept).toMatchObject({ outcome: 'token_limit', tokens: 90_000 });
    expect(kept!.patch).toContain('+  return a + b;');
    // The commit is kept in the bot's mirror too, under the candidate's ref.
    const state = (await latestExecution(db, id))!;
    expect(state.phases.implement).toMatchObject({ status: 'stopped', outcome: 'budget', tokens: 90_000 });
    expect(state.phases.implement!.budget).toMatchObject({ tokens: 60_000 });
    // The next candidates would start with nothing left: they were not made.
    expect(state.phases.implement!.note).toContain('2 candidate(s) not made');
    // What the stopped phase kept is reviewed like any candidate: it passes, so it is the merge request.
    const task = (await getTask(db, id))!;
    expect(task).toMatchObject({ status: 'completed', pr_number: 1 });
    expect(await git(['show', `${task.branch}:src/math.js`], { cwd: world.repo })).toContain('return a + b;');
  }, 120_000);

  it('pauses new candidates after a model-API error, and says so', async () => {
    const overloaded = `console.error('API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}'); process.exit(1);`;
    world = await pipelineWorld({ 'agent-a': { implement: overloaded } }, (c) => {
      c.pipeline!.policies!.P2!.candidates = 1;
      c.pipeline!.breakers = { failures_in_a_row: 5, model_api_pause_ms: 3_600_000 };
    });
    const db = world.core.store.db;
    const first = await world.runTask('bug-8');
    expect((await candidatesOfTask(db, first))[0]!.error).toContain('overloaded_error');
    const second = await world.runTask('bug-9');
    const state = (await latestExecution(db, second))!;
    expect(state.phases.implement).toMatchObject({ status: 'stopped', outcome: 'paused' });
    expect(state.breakers).toEqual([expect.objectContaining({ agent: '*', reason: 'the model API failed (overloaded, rate limited or a server error)' })]);
    expect(await candidatesOfTask(db, second)).toEqual([]);
    expect((await getTask(db, second))!.error_message).toMatch(/^no candidate was made: new candidates wait until /);
  }, 120_000);

  it('opens an agent\'s breaker after it failed its last runs, and skips it while it is open', async () => {
    world = await pipelineWorld({ 'agent-a-broken': { implement: 'process.exit(3);' }, 'agent-b': { implement: FIX } }, (c) => {
      c.pipeline!.policies!.P2!.candidates = 2;
      c.pipeline!.breakers = { failures_in_a_row: 1, cooldown_ms: 3_600_000 };
    });
    const db = world.core.store.db;
    const first = await world.runTask('bug-5');
    expect((await candidatesOfTask(db, first)).map((c) => [c.agent_name, c.outcome])).toEqual([
      ['agent-a-broken', 'failed'],
      ['agent-b', 'success'],
    ]);
    const second = await world.runTask('bug-6');
    const state = (await latestExecution(db, second))!;
    expect(state.breakers).toEqual([expect.objectContaining({ agent: 'agent-a-broken', reason: 'failed its last 1 runs in a row' })]);
    // Both candidates come from the agent whose breaker is closed, the second as another variant.
    expect((await candidatesOfTask(db, second)).map((c) => c.agent_name)).toEqual(['agent-b', 'agent-b']);
  }, 180_000);
});
