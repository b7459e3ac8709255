import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logs } from '../../src/cli/commands.js';
import { withContext } from '../../src/cli/context.js';
import { buildProgram } from '../../src/cli/main.js';
import { createLogger } from '../../src/log.js';
import { getAgent } from '../../src/store/agents.js';
import { newAssignment } from '../../src/store/assignments.js';
import { audit } from '../../src/store/audit.js';
import { recordHookEvents } from '../../src/store/hook-events.js';
import type { Database, NewTask, TaskRow } from '../../src/store/schema.js';
import { getTask } from '../../src/store/tasks.js';
import { addTask, freshStore, repoRoot, shippedConfigPath, type TestStore } from '../tiers/fixtures.js';
import { doom, fails, ok, scrubEnvironment } from './harness.js';

scrubEnvironment();

let store: TestStore;
let db: Kysely<Database>;
beforeEach(async () => {
  store = await freshStore();
  db = store.db;
  process.env.DATABASE_URL = store.path;
});
afterEach(async () => {
  await store.dispose();
  delete process.env.DATABASE_URL;
});


const task = (over: Partial<NewTask> = {}): Promise<TaskRow> => addTask(db, over);

/** Final rewards of `agent` as the evaluator leaves them: one per merge request, merged or closed. */
async function finals(agent: string, states: ('merged' | 'closed')[]): Promise<void> {
  for (const state of states) {
    const t = await task();
    const at = new Date().toISOString();
    await db
      .insertInto('rewards')
      .values({
        task_id: t.id, assignment_id: null, agent_name: agent, reward: state === 'merged' ? 2 : -1, components: '{}', weights: '{}',
        evaluator_version: '1.0.0', hook_duration_ms: 0, kind: 'final', degraded: 0, mr_number: t.id, mr_state: state,
        created_at: at, updated_at: at, settled_at: at,
      })
      .execute();
  }
}

const perfect = [
  'test_coverage_delta=1',
  'lint_score=1',
  'security_scan_score=1',
  'code_complexity_delta=1',
  'ci_pipeline_status=1',
  'review_feedback_score=1',
];
const worst = [
  'test_coverage_delta=-1',
  'lint_score=0',
  'security_scan_score=0',
  'code_complexity_delta=-1',
  'ci_pipeline_status=0',
  'review_feedback_score=-1',
];

describe('status', () => {
  it('prints a table', async () => {
    const text = await ok('status');
    const lines = text.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'database   sqlite',
      'forges     github not configured, gitlab not configured',
      'tasks      none',
      'inbox      none',
      'agents     9 (junior 4, senior 4, principal 1), 0 busy',
    ]);
    expect(text).toContain('no tasks yet');
  });

  it('lists recent tasks with their state', async () => {
    await task({ issue_number: 5, pending_reason: 'no principal bugfix agent with free capacity for P0', priority: 'P0' });
    const text = await ok('status', '--format', 'table');
    expect(text).toContain('tasks      pending 1');
    expect(text).toMatch(/^task\s+status\s+type\s+prio\s+agent\s+issue\s+note$/m);
    expect(text).toMatch(
      /^1\s+pending\s+bugfix\s+P0\s+-\s+https:\/\/github\.com\/acme\/widgets\/issues\/5\s+no principal bugfix agent with free capacity for P0$/m,
    );
  });

  it('prints JSON that parses', async () => {
    const t = await task({ status: 'assigned', assigned_agent: 'agent-bugfix-junior' });
    await db
      .insertInto('assignments')
      .values({ ...newAssignment(t.id, 'agent-bugfix-junior', '[]'), assigned_at: t.created_at })
      .execute();
    const data = JSON.parse(await ok('status', '--format', 'json'));
    expect(data).toMatchObject({
      database: 'sqlite',
      forges: { github: false, gitlab: false },
      tasks: { assigned: 1 },
      deliveries: {},
      agents: { total: 9, busy: 1, tiers: { junior: 4, senior: 4, principal: 1 } },
    });
    expect(data.recent_tasks).toEqual([
      {
        id: t.id,
        status: 'assigned',
        type: 'bugfix',
        priority: 'P2',
        agent: 'agent-bugfix-junior',
        issue: t.issue_url,
        waiting: null,
        error: null,
      },
    ]);
  });

  it('also prints through the out callback of buildProgram', async () => {
    const printed: string[] = [];
    await buildProgram((t) => printed.push(t)).parseAsync(['node', 'doom', '--config', shippedConfigPath, 'status', '--format', 'json']);
    expect(printed).toHaveLength(1);
    expect(JSON.parse(printed[0]!).agents.total).toBe(9);
  });

  it('rejects an unknown format', async () => {
    expect(await fails('status', '--format', 'yaml')).toContain("argument 'yaml' is invalid");
  });
});

describe('agents list', () => {
  it('lists every agent with tier, average and load', async () => {
    const lines = (await ok('agents', 'list')).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^name\s+tier\s+specializations\s+avg\s+tasks\s+success\s+load\s+override\s+mean ± bound \(n\)\s+pending$/);
    expect(lines).toHaveLength(11);
    expect(lines[2]).toMatch(/^agent-bugfix-junior\s+junior\s+bugfix\s+0\.00\s+0\s+-\s+0\/1\s+-\s+-\s+0$/);
    expect(lines.find((l) => l.startsWith('agent-principal'))).toMatch(/principal\s+bugfix,feature,refactor,security\s+0\.00\s+0\s+-\s+0\/2/);
  });

  it('filters by tier', async () => {
    const rows = JSON.parse(await ok('agents', 'list', '--tier', 'senior', '--format', 'json')) as { name: string; tier: string }[];
    expect(rows.map((r) => r.name)).toEqual(['agent-bugfix-senior', 'agent-feature-senior', 'agent-refactor-senior', 'agent-security-senior']);
    expect(new Set(rows.map((r) => r.tier))).toEqual(new Set(['senior']));
    expect(await ok('agents', 'list', '--tier', 'suspended')).toBe('no suspended agents\n');
  });

  it('shows success rate and overrides', async () => {
    // Success counts merged MRs over final rewards, not opened MRs (completed_tasks).
    await db.updateTable('agents').set({ completed_tasks: 4, failed_tasks: 0, total_tasks: 4, rolling_avg: 2.345 }).where('name', '=', 'agent-feature-senior').execute();
    await finals('agent-feature-senior', ['merged', 'closed', 'merged', 'merged']);
    await finals('agent-bugfix-junior', ['closed']);
    await ok('agents', 'suspend', 'agent-feature-junior');
    const rows = JSON.parse(await ok('agents', 'list', '--format', 'json')) as Record<string, unknown>[];
    expect(rows.find((r) => r.name === 'agent-feature-senior')).toMatchObject({ success_rate: 0.75, rolling_avg: 2.345, total_tasks: 4, load: 0, capacity: 2 });
    expect(String(rows.find((r) => r.name === 'agent-feature-junior')!.override)).toMatch(/^suspended@\d{4}-/);
    expect(await ok('agents', 'list')).toMatch(/^agent-feature-senior\s+senior\s+feature\s+2\.35\s+4\s+75%/m);
    // Its only MR closed unmerged: 0, not 100%.
    expect(rows.find((r) => r.name === 'agent-bugfix-junior')).toMatchObject({ success_rate: 0 });
    expect(rows.find((r) => r.name === 'agent-bugfix-senior')).toMatchObject({ success_rate: null });
  });

  it('rejects an unknown tier with a message and a non-zero exit', async () => {
    const r = await doom('agents', 'list', '--tier', 'boss');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: option '--tier <tier>' argument 'boss' is invalid. Allowed choices are junior, senior, principal, suspended.");
  });
});

describe('agents promote and suspend', () => {
  it('promotes one tier up and records it', async () => {
    expect(await ok('agents', 'promote', 'agent-bugfix-junior')).toBe('agent-bugfix-junior is now senior\n');
    expect((await getAgent(db, 'agent-bugfix-junior'))!.tier).toBe('senior');
    const last = await db.selectFrom('tier_history').selectAll().where('agent_name', '=', 'agent-bugfix-junior').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect([last.from_tier, last.to_tier, last.reason, last.source]).toEqual(['junior', 'senior', 'promoted by cli', 'manual']);
  });

  it('promotes to a given tier with a reason', async () => {
    expect(await ok('agents', 'promote', 'agent-refactor-junior', '--to', 'principal', '--reason', 'carried the rewrite')).toBe(
      'agent-refactor-junior is now principal\n',
    );
    const last = await db.selectFrom('tier_history').select('reason').where('agent_name', '=', 'agent-refactor-junior').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(last.reason).toBe('carried the rewrite');
    expect(await fails('agents', 'promote', 'agent-refactor-senior', '--to', 'suspended')).toContain("argument 'suspended' is invalid");
  });

  it('fails with a message for an unknown agent or a principal', async () => {
    expect(await fails('agents', 'promote', 'x')).toBe('doom: agent "x" does not exist\n');
    expect(await fails('agents', 'suspend', 'x')).toBe('doom: agent "x" does not exist\n');
    expect(await fails('agents', 'promote', 'agent-principal')).toBe('doom: agent "agent-principal" is already principal; there is no tier above\n');
  });

  it('suspends with a reason and takes the agent out of routing', async () => {
    expect(await ok('agents', 'suspend', 'agent-bugfix-junior', '--reason', 'pushed a secret')).toBe('agent-bugfix-junior is suspended\n');
    const agent = (await getAgent(db, 'agent-bugfix-junior'))!;
    expect(agent.tier).toBe('suspended');
    const last = await db.selectFrom('tier_history').select('reason').where('agent_name', '=', 'agent-bugfix-junior').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(last.reason).toBe('pushed a secret');
    const t = await task();
    expect(await ok('assign', '--task', String(t.id))).toMatch(new RegExp(`^task ${t.id} assigned to agent-bugfix-senior\n`));
  });

  it('sends the tasks a suspended agent had not started back to the router', async () => {
    const t = await task();
    expect(await ok('assign', '--task', String(t.id))).toMatch(/assigned to agent-bugfix-junior/);
    expect(await ok('agents', 'suspend', 'agent-bugfix-junior')).toBe(
      'agent-bugfix-junior is suspended; 1 task(s) it had not started went back to the router\n',
    );
    const after = (await getTask(db, t.id))!;
    expect(after.status).toBe('assigned');
    expect(after.assigned_agent).not.toBe('agent-bugfix-junior');
    const statuses = await db.selectFrom('assignments').select(['agent_name', 'status']).where('task_id', '=', t.id).orderBy('id').execute();
    expect(statuses).toEqual([
      { agent_name: 'agent-bugfix-junior', status: 'cancelled' },
      { agent_name: after.assigned_agent, status: 'assigned' },
    ]);
  });

  it('assigns waiting tasks when a promotion makes an agent eligible', async () => {
    await ok('agents', 'suspend', 'agent-principal');
    const t = await task({ type: 'security', priority: 'P0' });
    expect(await ok('assign', '--task', String(t.id))).toBe(
      `task ${t.id} stays pending: no principal security agent with free capacity for P0 (2 of another tier, 1 suspended); the best senior takes it after 15 min of waiting\n`,
    );
    expect(await ok('agents', 'promote', 'agent-security-senior')).toBe('agent-security-senior is now principal (1 waiting task(s) assigned)\n');
    expect((await getTask(db, t.id))!.assigned_agent).toBe('agent-security-senior');
  });
});

describe('scores', () => {
  it('fails for an unknown agent', async () => {
    expect(await fails('scores', '--agent', 'ghost')).toBe('doom: agent "ghost" does not exist\n');
  });

  it.each(['0', '-1', 'abc', '1.5'])('rejects --last %s', async (value) => {
    expect(await fails('scores', '--agent', 'agent-principal', '--last', value)).toContain(
      `error: option '--last <n>' argument '${value}' is invalid. expected a positive whole number`,
    );
  });

  it('requires --agent', async () => {
    expect(await fails('scores')).toContain("required option '--agent <name>' not specified");
  });

  it('says when there are no rewards yet', async () => {
    expect(await ok('scores', '--agent', 'agent-bugfix-junior')).toBe(
      'agent-bugfix-junior: junior, rolling average 0.00, no settled outcomes yet, 0 pending\nno rewards yet\n',
    );
  });

  it('lists rewards, newest last, limited by --last', async () => {
    const [a, b] = [await task(), await task()];
    await ok('reward', '--task', String(a.id), '--agent', 'agent-bugfix-junior', '--component', ...perfect);
    await ok('reward', '--task', String(b.id), '--agent', 'agent-bugfix-junior', '--component', ...worst);
    const table = await ok('scores', '--agent', 'agent-bugfix-junior');
    const lines = table.trimEnd().split('\n');
    // The perfect reward made it senior (lower bound 2.99); one bad one does not undo that.
    expect(lines[0]).toBe('agent-bugfix-junior: senior, rolling average 0.00, mean 0.00 ± 4.29 (n=2), 0 pending');
    expect(lines[1]).toMatch(/^time\s+task\s+reward\s+kind\s+cov\s+lint\s+sec\s+cplx\s+ci\s+review$/);
    expect(lines).toHaveLength(5);
    expect(lines[3]).toMatch(new RegExp(`\\s${a.id}\\s+5\\.00\\s+manual\\s+1\\.00\\s+1\\.00\\s+1\\.00\\s+1\\.00\\s+1\\.00\\s+1\\.00$`));
    expect(lines[4]).toMatch(new RegExp(`\\s${b.id}\\s+-5\\.00\\s+manual\\s+-1\\.00\\s+0\\.00`));

    const json = JSON.parse(await ok('scores', '--agent', 'agent-bugfix-junior', '--last', '1', '--format', 'json'));
    expect(json).toMatchObject({ agent: 'agent-bugfix-junior', tier: 'senior', rolling_avg: 0, mean: { n: 2, mean: 0 }, pending_rewards: 0 });
    expect(json.rewards).toHaveLength(1);
    expect(json.rewards[0]).toMatchObject({ task_id: b.id, reward: -5, kind: 'manual', degraded: false });
    expect(json.rewards[0].components.review_feedback_score).toBe(-1);
  });
});

describe('leaderboard', () => {
  beforeEach(async () => {
    const set = (name: string, v: { rolling_avg: number; total_tasks: number; completed_tasks: number; failed_tasks: number }) =>
      db.updateTable('agents').set(v).where('name', '=', name).execute();
    await set('agent-bugfix-senior', { rolling_avg: 3.5, total_tasks: 4, completed_tasks: 1, failed_tasks: 3 });
    await set('agent-feature-junior', { rolling_avg: 1.0, total_tasks: 12, completed_tasks: 6, failed_tasks: 6 });
    await set('agent-principal', { rolling_avg: -0.5, total_tasks: 2, completed_tasks: 2, failed_tasks: 0 });
    await finals('agent-bugfix-senior', ['merged', 'closed', 'closed', 'closed']);
    await finals('agent-feature-junior', ['merged', 'closed']);
    await finals('agent-principal', ['merged', 'merged']);
  });

  const top = async (metric?: string) => {
    const args = ['leaderboard', '--format', 'json', ...(metric ? ['--metric', metric] : [])];
    const data = JSON.parse(await ok(...args)) as { metric: string; agents: { rank: number; name: string }[] };
    return { metric: data.metric, names: data.agents.slice(0, 3).map((a) => a.name), count: data.agents.length, ranks: data.agents.map((a) => a.rank) };
  };

  it('ranks by rolling average by default', async () => {
    expect(await top()).toEqual({
      metric: 'reward',
      names: ['agent-bugfix-senior', 'agent-feature-junior', 'agent-bugfix-junior'],
      count: 9,
      ranks: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    });
  });

  it('ranks by tasks', async () => {
    expect((await top('tasks')).names).toEqual(['agent-feature-junior', 'agent-bugfix-senior', 'agent-principal']);
  });

  it('ranks by success rate, agents without finished tasks last', async () => {
    const { names } = await top('success-rate');
    expect(names).toEqual(['agent-principal', 'agent-feature-junior', 'agent-bugfix-senior']);
  });

  it('prints a table', async () => {
    const lines = (await ok('leaderboard', '--metric', 'success-rate')).split('\n');
    expect(lines[0]).toMatch(/^#\s+agent\s+tier\s+avg reward\s+tasks\s+success$/);
    expect(lines[2]).toMatch(/^1\s+agent-principal\s+principal\s+-0\.50\s+2\s+100%$/);
    expect(lines[3]).toMatch(/^2\s+agent-feature-junior\s+junior\s+1\.00\s+12\s+50%$/);
    expect(lines[4]).toMatch(/^3\s+agent-bugfix-senior\s+senior\s+3\.50\s+4\s+25%$/);
  });

  it('rejects an unknown metric', async () => {
    expect(await fails('leaderboard', '--metric', 'speed')).toContain(
      "error: option '--metric <metric>' argument 'speed' is invalid. Allowed choices are reward, tasks, success-rate.",
    );
  });
});

describe('reward', () => {
  it('records a reward and updates the rolling average and tier', async () => {
    const [a, b] = [await task(), await task()];
    expect(await ok('reward', '--task', String(a.id), '--agent', 'agent-bugfix-junior', '--component', ...perfect)).toBe(
      // One perfect reward: 5.00 ± 2.01, whose lower bound clears senior but not principal.
      `reward 5.00 recorded for agent-bugfix-junior on task ${a.id}; tier senior (changed)\n`,
    );
    expect((await getAgent(db, 'agent-bugfix-junior'))!.rolling_avg).toBe(5);
    expect(await ok('reward', '--task', String(b.id), '--agent', 'agent-bugfix-junior', '--component', ...worst)).toBe(
      `reward -5.00 recorded for agent-bugfix-junior on task ${b.id}; tier senior\n`,
    );
    // (5 + −5) / 2 = 0 ± 4.29: the upper bound is far above 2 − 0.25, so one bad reward does not demote.
    const agent = (await getAgent(db, 'agent-bugfix-junior'))!;
    expect([agent.rolling_avg, agent.tier]).toEqual([0, 'senior']);
    const rows = await db.selectFrom('rewards').select(['task_id', 'reward', 'kind']).orderBy('id').execute();
    expect(rows).toEqual([
      { task_id: a.id, reward: 5, kind: 'manual' },
      { task_id: b.id, reward: -5, kind: 'manual' },
    ]);
  });

  it('fails naming an out-of-range component, and stores nothing', async () => {
    const t = await task();
    const args = perfect.map((p) => (p.startsWith('lint_score') ? 'lint_score=2' : p));
    expect(await fails('reward', '--task', String(t.id), '--agent', 'agent-bugfix-junior', '--component', ...args)).toBe(
      'doom: lint_score must be between 0 and 1, got 2\n',
    );
    const ci = perfect.map((p) => (p.startsWith('ci_') ? 'ci_pipeline_status=0.5' : p));
    expect(await fails('reward', '--task', String(t.id), '--agent', 'agent-bugfix-junior', '--component', ...ci)).toBe(
      'doom: ci_pipeline_status must be 0 or 1, got 0.5\n',
    );
    expect(await db.selectFrom('rewards').selectAll().execute()).toEqual([]);
  });

  it('fails naming a missing component', async () => {
    const t = await task();
    expect(await fails('reward', '--task', String(t.id), '--agent', 'agent-bugfix-junior', '--component', ...perfect.slice(0, 5))).toBe(
      'doom: missing --component for: review_feedback_score\n',
    );
    expect(await fails('reward', '--task', String(t.id), '--agent', 'agent-bugfix-junior')).toContain(
      "required option '--component <name=value...>' not specified",
    );
  });

  it('fails for a task or agent that does not exist', async () => {
    const t = await task();
    expect(await fails('reward', '--task', '999', '--agent', 'agent-bugfix-junior', '--component', ...perfect)).toBe('doom: task 999 does not exist\n');
    expect(await fails('reward', '--task', String(t.id), '--agent', 'ghost', '--component', ...perfect)).toBe('doom: agent "ghost" does not exist\n');
  });
});

describe('assign', () => {
  it('fails for an unknown task, and for a local task id without what it needs to be created', async () => {
    expect(await fails('assign', '--task', '999')).toBe('doom: task 999 does not exist\n');
    // A string id names a local task (see test/cli/local.test.ts); an unknown one needs --type to be created.
    expect(await fails('assign', '--task', 'abc')).toContain('task abc does not exist; to create a local task give --type <type> or --file <task.yml>');
    expect(await fails('assign', '--task', 'a b')).toContain('--task "a b" is invalid');
  });

  it('assigns a pending task and says why', async () => {
    const t = await task();
    const lines = (await ok('assign', '--task', String(t.id))).trimEnd().split('\n');
    expect(lines[0]).toBe(`task ${t.id} assigned to agent-bugfix-junior`);
    expect(lines.slice(1)).toEqual([
      '  - bugfix specialist, tier junior (allowed for P2: junior/senior/principal)',
      // Nobody has outcomes: equal bounds, and the tie goes by load, then name.
      '  - bugfix mean 0.00 ± 1.84 from 0 bugfix and 0 settled outcomes in all; upper bound (mean + 0.50 sd) 0.92',
      '  - load 0/1',
      '  - best of 3 eligible: agent-bugfix-junior 0.92, agent-bugfix-senior 0.92, agent-principal 0.92',
    ]);
    const stored = (await getTask(db, t.id))!;
    expect([stored.status, stored.assigned_agent]).toEqual(['assigned', 'agent-bugfix-junior']);
    expect((await getAgent(db, 'agent-bugfix-junior'))!.total_tasks).toBe(1);
    expect(await fails('assign', '--task', String(t.id))).toBe(`doom: task ${t.id} is assigned; only pending tasks can be assigned\n`);
  });

  it('forces an agent, even outside its specialization, and can reassign', async () => {
    const t = await task();
    const text = await ok('assign', '--task', String(t.id), '--force-agent', 'agent-security-senior');
    expect(text).toBe(
      [
        `task ${t.id} assigned to agent-security-senior`,
        '  - forced by the operator (agent "agent-security-senior")',
        '  - tier senior, no settled outcomes yet',
        '  - note: not a bugfix specialist',
        '',
      ].join('\n'),
    );
    expect(await ok('assign', '--task', String(t.id), '--force-agent', 'agent-principal')).toMatch(new RegExp(`^task ${t.id} assigned to agent-principal\n`));
    const rows = await db.selectFrom('assignments').select(['agent_name', 'status']).where('task_id', '=', t.id).orderBy('id').execute();
    expect(rows).toEqual([
      { agent_name: 'agent-security-senior', status: 'cancelled' },
      { agent_name: 'agent-principal', status: 'assigned' },
    ]);
  });

  it('fails for an unknown forced agent and leaves the task pending', async () => {
    const t = await task();
    expect(await fails('assign', '--task', String(t.id), '--force-agent', 'nobody')).toBe('doom: agent "nobody" does not exist\n');
    expect((await getTask(db, t.id))!.status).toBe('pending');
  });
});

describe('logs', () => {
  it('shows audit entries, oldest first, and filters by agent', async () => {
    await ok('agents', 'promote', 'agent-bugfix-junior');
    await ok('agents', 'suspend', 'agent-feature-senior', '--reason', 'flaky');
    const all = (await ok('logs')).trimEnd().split('\n');
    expect(all.map((l) => l.split(/\s+/)[1])).toEqual(['agent.tier_changed', 'agent.promoted', 'agent.tier_changed', 'agent.suspended']);
    expect(all[1]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}agent\.promoted\s+agent-bugfix-junior {2}by cli {2}\{"to":"senior","reason":"promoted by cli"\}$/);

    const mine = (await ok('logs', '--agent', 'agent-feature-senior')).trimEnd().split('\n');
    expect(mine).toHaveLength(2);
    expect(mine.every((l) => l.includes('agent-feature-senior'))).toBe(true);
    expect(mine[1]).toContain('{"reason":"flaky"}');

    expect((await ok('logs', '-n', '1')).trimEnd().split('\n')).toHaveLength(1);
    expect(await ok('logs', '--agent', 'agent-principal')).toBe('');
  });

  it('--task shows the task, its runs with their raw errors, then its entries', async () => {
    const t = await task({ status: 'failed', error_message: 'the change could not be committed or pushed' });
    const other = await task();
    await db
      .insertInto('assignments')
      .values({ ...newAssignment(t.id, 'agent-bugfix-junior', '[]'), status: 'failed', outcome: 'failed', error: 'git push failed: fatal: unable to access https://git.internal/x.git\nsecond line' })
      .execute();
    await audit(db, { event: 'task.failed', actor: 'executor', taskId: t.id, data: { stage: 'publish' } });
    await audit(db, { event: 'task.created', actor: 'test', taskId: other.id });
    const lines = (await ok('logs', '--task', String(t.id))).trimEnd().split('\n');
    expect(lines[0]).toBe(`task ${t.id}  failed  ${t.repo}#${t.issue_number}  the change could not be committed or pushed`);
    expect(lines[1]).toMatch(new RegExp(`^run \\d+  agent-bugfix-junior  failed \\(failed\\)  `));
    expect(lines[2]).toBe('  error: git push failed: fatal: unable to access https://git.internal/x.git');
    expect(lines[3]).toBe('  second line');
    expect(lines.slice(4).map((l) => l.split(/\s+/)[1])).toEqual(['task.failed']);
    expect(await fails('logs', '--task', '999')).toBe('doom: task 999 does not exist\n');
  });

  it("shows the runs' hook events among the audit entries, by agent too, and --tail follows both", async () => {
    const t = await task();
    const run = { taskId: t.id, runId: 5, agentName: 'agent-principal' };
    await audit(db, { event: 'task.assigned', actor: 'test', taskId: t.id, agentName: 'agent-principal' });
    await recordHookEvents(db, [{ ...run, type: 'TaskStart', payload: { tier: 'principal' } }]);
    await recordHookEvents(db, [{ ...run, agentName: 'agent-bugfix-junior', type: 'SubagentStop', payload: {} }]);
    const all = (await ok('logs')).trimEnd().split('\n');
    expect(all.map((l) => l.split(/\s+/)[1])).toEqual(['task.assigned', 'hook.TaskStart', 'hook.SubagentStop']);
    expect(all[1]).toMatch(new RegExp(`hook\\.TaskStart\\s+task ${t.id} agent-principal {2}run 5 {2}\\{"tier":"principal"\\}$`));
    expect((await ok('logs', '--agent', 'agent-bugfix-junior')).trimEnd().split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['hook.SubagentStop']);

    const printed: string[] = [];
    const stop = new AbortController();
    let sawFirst!: () => void;
    const first = new Promise<void>((resolve) => (sawFirst = resolve));
    await withContext({ config: shippedConfigPath }, createLogger({ level: 'silent' }), async (ctx) => {
      const tail = logs(ctx, { tail: true, agent: 'agent-principal', lines: 20 }, (line) => {
        printed.push(line);
        if (line.includes('hook.TaskStart')) sawFirst();
        if (line.includes('hook.TaskComplete')) stop.abort();
      }, stop.signal);
      await first;
      await recordHookEvents(db, [{ ...run, type: 'TaskComplete', payload: { outcome: 'success' } }]);
      await tail;
    });
    expect(printed.map((l) => l.split(/\s+/)[1])).toEqual(['task.assigned', 'hook.TaskStart', 'hook.TaskComplete']);
  });

  it('--tail prints new entries as they come until stopped', async () => {
    await audit(db, { event: 'test.before', actor: 'test', agentName: 'agent-principal' });
    const printed: string[] = [];
    const stop = new AbortController();
    let sawFirst!: () => void;
    const first = new Promise<void>((resolve) => (sawFirst = resolve));
    await withContext({ config: shippedConfigPath }, createLogger({ level: 'silent' }), async (ctx) => {
      const tail = logs(
        ctx,
        { tail: true, agent: 'agent-principal', lines: 20 },
        (line) => {
          printed.push(line);
          if (line.includes('test.before')) sawFirst();
          if (line.includes('test.after')) stop.abort();
        },
        stop.signal,
      );
      await first;
      // Entries written after the first page: one for another agent (filtered out), one for ours.
      await audit(db, { event: 'test.other', actor: 'test', agentName: 'agent-bugfix-junior' });
      await audit(db, { event: 'test.after', actor: 'test', agentName: 'agent-principal', data: { n: 1 } });
      await tail;
    });
    expect(printed).toHaveLength(2);
    expect(printed[0]).toContain('test.before');
    expect(printed[1]).toMatch(/test\.after\s+agent-principal {2}by test {2}\{"n":1\}$/);
  });
});

describe('the doom binary', () => {
  const run = promisify(execFile);
  const bin = join(repoRoot, 'bin/doom.js');
  const spawnDoom = async (...args: string[]) => {
    const env = { ...process.env, DATABASE_URL: store.path };
    try {
      const { stdout, stderr } = await run(process.execPath, [bin, '--config', shippedConfigPath, ...args], { env, timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; killed?: boolean; stdout: string; stderr: string };
      if (e.killed) throw new Error(`doom ${args.join(' ')} did not exit`);
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  // In-process runs cover the bad-option exit codes; these two check the process really exits.
  it('exits 0 after a command and 1 with a message after a failure', async () => {
    const [status, unknown] = await Promise.all([spawnDoom('status', '--format', 'json'), spawnDoom('agents', 'promote', 'x')]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).agents.total).toBe(9);
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'doom: agent "x" does not exist\n' });
  });
});
