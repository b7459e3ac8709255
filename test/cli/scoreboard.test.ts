/** `doom tiers update` and `doom scores export`, run in-process through main(argv). */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAgent } from '../../src/store/agents.js';
import type { Database, RewardKind } from '../../src/store/schema.js';
import { getTask } from '../../src/store/tasks.js';
import { addTask, freshStore, scratchDir, shippedAgents, type TestStore } from '../tiers/fixtures.js';
import { doom, fails, ok, scrubEnvironment } from './harness.js';

scrubEnvironment();

let store: TestStore;
let db: Kysely<Database>;
let taskId = 0;
beforeEach(async () => {
  store = await freshStore();
  db = store.db;
  taskId = 0;
  process.env.DATABASE_URL = store.path;
});
afterEach(async () => {
  await store.dispose();
  delete process.env.DATABASE_URL;
});


async function reward(agent: string, value: number, minute: number, kind: RewardKind = 'final'): Promise<void> {
  const at = new Date(Date.UTC(2999, 7, 12, 10, minute)).toISOString();
  await db
    .insertInto('rewards')
    .values({
      task_id: ++taskId,
      agent_name: agent,
      reward: value,
      components: '{"ci_pipeline_status":1}',
      weights: '{"ci_status":1}',
      evaluator_version: '1.0.0',
      hook_duration_ms: 7,
      kind,
      degraded: 0,
      created_at: at,
      updated_at: at,
      settled_at: kind === 'provisional' ? null : at,
    })
    .execute();
}

describe('tiers update', () => {
  it('says so when nothing changes', async () => {
    expect(await ok('tiers', 'update')).toBe('recomputed 9 agent(s): no tier changes\n');
  });

  it('recomputes every agent by hand, prints the changes and records them as manual', async () => {
    // Three perfect rewards: enough evidence for principal (a lower bound of 4.10).
    for (const minute of [0, 1, 2]) await reward('agent-bugfix-junior', 5, minute);
    await reward('agent-feature-senior', 2.5, 3);
    await db.updateTable('agents').set({ rolling_avg: 1.1 }).where('name', '=', 'agent-feature-senior').execute();
    const lines = (await ok('tiers', 'update')).trimEnd().split('\n');
    expect(lines[0]).toBe('recomputed 9 agent(s): 1 tier change(s), 1 agent row(s) corrected without a tier change');
    expect(lines[1]).toMatch(/^agent\s+from\s+to\s+reason$/);
    expect(lines[3]).toMatch(/^agent-bugfix-junior\s+junior\s+principal\s+mean 5\.00 ± 0\.90 \(n=3\): lower bound 4\.10 clears 4\.00 → principal$/);
    expect(lines).toHaveLength(4);
    expect((await getAgent(db, 'agent-feature-senior'))!.rolling_avg).toBe(2.5);

    const last = await db.selectFrom('tier_history').selectAll().where('agent_name', '=', 'agent-bugfix-junior').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect([last.source, last.to_tier]).toEqual(['manual', 'principal']);
    const entry = await db.selectFrom('audit_log').selectAll().where('event', '=', 'agent.tier_changed').executeTakeFirstOrThrow();
    expect(entry.actor).toBe('cli');

    expect(await ok('tiers', 'update')).toBe('recomputed 9 agent(s): no tier changes\n');
  });

  it('prints JSON', async () => {
    // Five: rewards suspend no one on fewer.
    for (const minute of [0, 1, 2, 3, 4]) await reward('agent-bugfix-senior', -2, minute);
    const data = JSON.parse(await ok('tiers', 'update', '--format', 'json'));
    expect(data).toMatchObject({
      agents: 9,
      changed: [{ name: 'agent-bugfix-senior', from: 'senior', to: 'suspended', reason: 'mean -2.00 ± 0.59 (n=5): upper bound -1.41 under 1.75 (senior less the 0.25 margin) → suspended' }],
      updated: 1,
      released_tasks: 0,
      assigned_tasks: 0,
    });
    expect(typeof data.duration_ms).toBe('number');
  });

  it('sends the unstarted tasks of an agent it suspends back to the router', async () => {
    const t = await addTask(db);
    expect(await ok('assign', '--task', String(t.id))).toMatch(/assigned to agent-bugfix-junior/);
    for (const minute of [0, 1, 2, 3, 4]) await reward('agent-bugfix-junior', -3, minute);
    const text = await ok('tiers', 'update');
    expect(text.split('\n')[0]).toBe('recomputed 9 agent(s): 1 tier change(s), 1 task(s) of suspended agents back to the router');
    const after = (await getTask(db, t.id))!;
    expect(after.status).toBe('assigned');
    expect(after.assigned_agent).not.toBe('agent-bugfix-junior');
  });

  it('rejects unknown flags and a missing subcommand with a non-zero exit', async () => {
    expect(await fails('tiers', 'update', '--bogus')).toContain("error: unknown option '--bogus'");
    expect(await fails('tiers', 'update', '--format', 'xml')).toContain("error: option '--format <format>' argument 'xml' is invalid");
    expect((await doom('tiers')).code).toBe(1);
  });
});

describe('scores export', () => {
  it('writes rlvr.jsonl and agent_tiers.json into --out-dir and says what it wrote', async () => {
    await reward('agent-bugfix-senior', 3.7, 30);
    await reward('agent-principal', 1, 31, 'provisional');
    await ok('tiers', 'update');
    const dir = join(scratchDir('doom-export-'), 'nested', 'out');
    const text = await ok('scores', 'export', '--out-dir', dir);
    expect(text).toBe(`wrote 2 reward(s) to ${join(dir, 'rlvr.jsonl')}\nwrote 9 agent(s) to ${join(dir, 'agent_tiers.json')}\n`);
    expect(readdirSync(dir).sort()).toEqual(['agent_tiers.json', 'rlvr.jsonl']);

    const jsonl = readFileSync(join(dir, 'rlvr.jsonl'), 'utf8');
    expect(jsonl.endsWith('\n')).toBe(true);
    const lines = jsonl.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({
      timestamp: '2999-08-12T10:30:00.000Z',
      task_id: 1,
      agent: 'agent-bugfix-senior',
      reward: 3.7,
      components: { ci_pipeline_status: 1 },
      kind: 'final',
      degraded: false,
      weights: { ci_status: 1 },
      evaluator_version: '1.0.0',
      hook_duration_ms: 7,
    });
    expect(lines[1]).toMatchObject({ agent: 'agent-principal', kind: 'provisional' });

    const tiers = JSON.parse(readFileSync(join(dir, 'agent_tiers.json'), 'utf8')) as { agents: Record<string, unknown> };
    expect(Object.keys(tiers.agents)).toEqual(shippedAgents().map((a) => a.name).sort());
    expect(tiers.agents['agent-bugfix-senior']).toEqual({ tier: 'senior', rolling_avg: 3.7, last_updated: '2999-08-12T10:30:00.000Z' });

    // Again: the files are replaced, and no temporary file is left behind.
    await reward('agent-bugfix-senior', 4, 32);
    expect(await ok('scores', 'export', '--out-dir', dir)).toContain('wrote 3 reward(s)');
    expect(readdirSync(dir).sort()).toEqual(['agent_tiers.json', 'rlvr.jsonl']);
  });

  it('writes into ./data/export by default', async () => {
    const cwd = process.cwd();
    const dir = scratchDir('doom-export-cwd-');
    process.chdir(dir);
    try {
      expect(await ok('scores', 'export')).toBe('wrote 0 reward(s) to data/export/rlvr.jsonl\nwrote 9 agent(s) to data/export/agent_tiers.json\n');
      expect(readFileSync(join(dir, 'data/export/rlvr.jsonl'), 'utf8')).toBe('');
    } finally {
      process.chdir(cwd);
    }
  });

  it('fails clearly when the directory cannot be written', async () => {
    const base = scratchDir('doom-export-bad-');
    const file = join(base, 'a-file');
    writeFileSync(file, 'not a directory');
    expect(await fails('scores', 'export', '--out-dir', join(file, 'out'))).toBe(`doom: cannot write ${join(file, 'out')}: ENOTDIR: not a directory\n`);

    // rlvr.jsonl is a directory: the write fails, nothing half-written is left.
    const dir = join(base, 'out');
    mkdirSync(join(dir, 'rlvr.jsonl'), { recursive: true });
    expect(await fails('scores', 'export', '--out-dir', dir)).toMatch(new RegExp(`^doom: cannot write ${join(dir, 'rlvr.jsonl')}: E[A-Z]+: `));
    expect(readdirSync(dir)).toEqual(['rlvr.jsonl']);
    expect(existsSync(join(dir, 'agent_tiers.json'))).toBe(false);

    expect(await fails('scores', 'export', '--out-dir', '')).toContain("error: option '--out-dir <dir>' argument '' is invalid. expected a directory");
    expect(await fails('scores', 'export', '--bogus')).toContain("error: unknown option '--bogus'");
  });

  it('leaves `doom scores --agent` as it was, and still requires --agent without a subcommand', async () => {
    await reward('agent-principal', 2.5, 0);
    await ok('tiers', 'update');
    expect(await ok('scores', '--agent', 'agent-principal', '--format', 'json')).toContain('"rolling_avg": 2.5');
    expect(await fails('scores')).toContain("error: required option '--agent <name>' not specified");
    expect(await fails('scores', '--last', '3')).toContain("error: required option '--agent <name>' not specified");
    expect(await fails('scores', '--agent', 'ghost')).toBe('doom: agent "ghost" does not exist\n');
  });
});
