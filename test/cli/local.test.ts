/**
 * Local mode end to end through the CLI: `doom demo` in a temp directory, `doom assign` of a
 * local task by its own id, and `doom review` on its branch. Real git repositories, real
 * SQLite stores, the real executor with the scripted agent, the repository's real commands.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { createSampleRepository, sampleCommands } from '../../src/forges/local/sample.js';
import { bwrapAvailable } from '../../src/runners/index.js';
import { openStore } from '../../src/store/db.js';
import { git } from '../../src/workspace/git.js';
import { claudeTestEnv, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { doom, fails, ok, scrubEnvironment } from './harness.js';

scrubEnvironment();

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'doom-local-test-'));
  dirs.push(dir);
  return dir;
};
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function storeState(databaseUrl: string) {
  const store = await openStore(databaseUrl);
  try {
    const db = store.db;
    return {
      tasks: await db.selectFrom('tasks').selectAll().execute(),
      rewards: await db.selectFrom('rewards').selectAll().execute(),
      agents: await db.selectFrom('agents').selectAll().execute(),
      tiers: await db.selectFrom('tier_history').selectAll().execute(),
      mrs: await db.selectFrom('local_merge_requests').selectAll().execute(),
      hooks: await db.selectFrom('hook_events').selectAll().orderBy('id').execute(),
    };
  } finally {
    await store.close();
  }
}

describe('doom demo', () => {
  it('runs the loop in a temp directory: branch, tests, reward, tier change, and leaves the store', async () => {
    const dir = join(await tempDir(), 'demo');
    const out = await ok('demo', '--scripted', '--dir', dir);
    expect(out).toMatch(/branch doom\/1-add-subtracts at [0-9a-f]{10}/);
    expect(out).toContain('pipeline on main: failed');
    expect(out).toContain('(0 passed, 2 failed)');
    expect(out).toContain('pipeline on doom/1-add-subtracts: success');
    expect(out).toContain('(2 passed, 0 failed)');
    // main has no passing pipeline, so the patch (the fixed line, covered) is compared with the
    // head's project coverage: +1. 5 × (0.3 + 0.2 + 0.2 + 0.1 (no complexity added) + 0.1 + 0.07).
    expect(out).toMatch(/final reward for agent-bugfix-junior: 4\.85/);
    expect(out).toContain('test_coverage_delta    1.00');
    expect(out).toContain('review_feedback_score  0.70');
    // The demo's own config reads tiers at confidence 0.5, so its one task shows a change (and says so).
    expect(out).toContain('tier change: agent-bugfix-junior junior → principal (mean 4.85 ± 0.61 (n=1): lower bound 4.24 clears 4.00 → principal)');
    expect(out).toContain("(the demo's config reads tiers at confidence 0.5, so one task can move one; the default, 1.645, wants a few more rewards)");
    expect(out).toContain(`DATABASE_URL=${join(dir, 'doom.db')} npm start`);
    expect(out).toContain('http://127.0.0.1:8080/');

    const state = await storeState(join(dir, 'doom.db'));
    expect(state.tasks).toHaveLength(1);
    expect(state.tasks[0]).toMatchObject({ forge: 'local', status: 'completed', branch: 'doom/1-add-subtracts', pr_number: 1 });
    expect(state.rewards).toEqual([expect.objectContaining({ agent_name: 'agent-bugfix-junior', kind: 'final', reward: 4.85 })]);
    expect(state.agents[0]).toMatchObject({ name: 'agent-bugfix-junior', tier: 'principal' });
    expect(state.tiers.at(-1)).toMatchObject({ from_tier: 'junior', to_tier: 'principal', source: 'rewards' });
    expect(state.mrs[0]).toMatchObject({ state: 'merged', source_branch: 'doom/1-add-subtracts', target_branch: 'main' });
    expect(state.hooks.map((h) => h.type)).toEqual(['TaskStart', 'TaskComplete']);
    // The merge landed on the sample's main: its test passes there now.
    expect(await readFile(join(dir, 'sample', 'src/math.js'), 'utf8')).toContain('return a + b;');
  }, 60_000);

  it('refuses a --dir that is not empty', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'keep.txt'), 'mine');
    expect(await fails('demo', '--scripted', '--dir', dir)).toContain('is not empty');
  });
});

/** A sample repository, a config naming its commands and a scripted agent that fixes it (or Claude Code, with `runner`). */
async function localSetup(runner?: string) {
  const dir = await tempDir();
  const repo = join(dir, 'repo');
  await mkdir(repo);
  const { fixPatch } = await createSampleRepository(repo);
  await mkdir(join(dir, 'config', 'agents'), { recursive: true });
  const config = join(dir, 'config', 'doom-rlvr.toml');
  await writeFile(
    config,
    stringify({ executor: { mirror_dir: join(dir, 'mirrors'), workspace_dir: join(dir, 'ws') }, repositories: { [repo]: { commands: sampleCommands } } }),
  );
  const patch = fixPatch.split('\n').map((l) => `      ${l}`).join('\n');
  await writeFile(
    join(dir, 'config', 'agents', 'agent-bugfix-junior.yml'),
    `agent:\n  name: agent-bugfix-junior\n  tier: junior\n  specializations: [bugfix]\n  context:\n    system_prompt: fix it\n${runner ?? `  runner:\n    kind: scripted\n    patch: |\n${patch}\n`}`,
  );
  const database = join(dir, 'doom.db');
  const cli = (...args: string[]) => ['--config', config, '--database', database, ...args];
  await ok(...cli('agents', 'sync'));
  return { repo, database, cli };
}

describe('doom assign --task <id> --type <type> (local mode)', () => {
  it('creates the task test-001, runs it, and keeps numeric ids working', async () => {
    const { repo, database, cli } = await localSetup();
    const out = await ok(...cli('assign', '--task', 'test-001', '--type', 'bugfix', '--repo', repo, '--description', 'add() subtracts'));
    expect(out).toContain('task 1 (bugfix, P2): add() subtracts');
    expect(out).toContain('assigned to agent-bugfix-junior');
    expect(out).toMatch(/branch doom\/1-add-subtracts/);
    // No review yet: 5 × (0.3 + 0.2 + 0.2 + 0.1 + 0.1 + 0) = 4.5.
    expect(out).toContain('provisional reward for agent-bugfix-junior: 4.50');
    expect(out).toContain('doom review approve|request-changes|merge|close test-001');
    // The branch is in the repository; its checkout is untouched.
    expect(await git(['rev-parse', '--verify', 'refs/heads/doom/1-add-subtracts'], { cwd: repo })).toMatch(/^[0-9a-f]{40}$/);
    expect(await readFile(join(repo, 'src/math.js'), 'utf8')).toContain('return a - b;');

    // The same id again finds the task; it does not make a second one.
    await ok(...cli('assign', '--task', 'test-001', '--type', 'bugfix', '--repo', repo));
    expect((await storeState(database)).tasks).toHaveLength(1);
    // A numeric id names a stored task, as before.
    expect(await fails(...cli('assign', '--task', '1'))).toContain('task 1 is completed; only pending tasks can be assigned');
    expect(await fails(...cli('assign', '--task', '7'))).toContain('task 7 does not exist');
    expect(await fails(...cli('assign', '--task', 'bad id!', '--type', 'bugfix'))).toContain('--task "bad id!" is invalid');
    expect(await fails(...cli('assign', '--task', 'test-002'))).toContain('give --type <type> or --file <task.yml>');
  }, 60_000);

  it('creates a task from a task.yml in the seed schema', async () => {
    const { repo, cli } = await localSetup();
    const dir = await tempDir();
    await writeFile(join(dir, 'task.yml'), 'task:\n  id: bug-7\n  type: bugfix\n  priority: P2\n  tags: [math]\n  description: add() subtracts\n');
    const out = await ok(...cli('assign', '--task', 'bug-7', '--file', join(dir, 'task.yml'), '--repo', repo, '--no-run'));
    expect(out).toContain('(bugfix, P2): add() subtracts');
    expect(out).toContain('assigned to agent-bugfix-junior');
    expect(out).not.toContain('branch');
    await writeFile(join(dir, 'bad.yml'), 'task:\n  type: chores\n');
    const bad = await doom(...cli('assign', '--task', 'bug-8', '--file', join(dir, 'bad.yml'), '--repo', repo));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('was rejected: the task block is invalid: task.type: Invalid option');
  });
});

describe('doom review (local forge)', () => {
  it('request-changes lowers the reward, close makes it final, and a closed branch takes no more reviews', async () => {
    const { repo, database, cli } = await localSetup();
    await ok(...cli('assign', '--task', 'test-001', '--type', 'bugfix', '--repo', repo));
    const changes = await ok(...cli('review', 'request-changes', 'test-001'));
    // 4.5 + 5 × 0.1 × −0.3
    expect(changes).toContain('provisional reward for agent-bugfix-junior: 4.35');
    expect(changes).toContain('review_feedback_score  -0.30');
    const closed = await ok(...cli('review', 'close', '1'));
    // Closed unmerged: the positive scores count 0, the review (−0.3 − 0.6) in full: 5 × 0.1 × −0.9.
    expect(closed).toContain('final reward for agent-bugfix-junior: -0.45');
    expect(await fails(...cli('review', 'merge', 'test-001'))).toContain('is already closed');
    expect(await fails(...cli('review', 'approve', 'nope-1'))).toContain('task nope-1 does not exist');
    expect((await doom(...cli('review', 'ship', 'test-001'))).code).toBe(1);
    const state = await storeState(database);
    expect(state.mrs[0]!.state).toBe('closed');
    expect(state.rewards[0]).toMatchObject({ kind: 'final', reward: -0.45 });
    // Closing does not merge: main still has the bug.
    expect(await readFile(join(repo, 'src/math.js'), 'utf8')).toContain('return a - b;');
    const logs = await ok(...cli('logs', '--task', 'test-001'));
    expect(logs).toContain('hook.TaskStart');
    expect(logs).toContain('review.changes_requested');
    expect(logs).toContain('mr.closed');
  }, 60_000);

  it('approve then merge with the target branch checked out makes a merge commit', async () => {
    const { repo, cli } = await localSetup();
    await ok(...cli('assign', '--task', 'test-001', '--type', 'bugfix', '--repo', repo));
    await ok(...cli('review', 'approve', 'test-001'));
    const merged = await ok(...cli('review', 'merge', 'test-001'));
    expect(merged).toContain('final reward for agent-bugfix-junior: 4.85');
    // One reward is little evidence at the default confidence: 4.85 ± 2.01 is senior, not yet principal.
    expect(merged).toContain('tier change: agent-bugfix-junior junior → senior (mean 4.85 ± 2.01 (n=1): lower bound 2.84 clears 2.00 → senior)');
    expect(await git(['log', '-1', '--format=%s'], { cwd: repo })).toContain("Merge branch 'doom/1-test-001'");
  }, 60_000);
});

describe('doom assign with the real Claude Code CLI (local mode)', () => {
  const saved = { ...process.env };
  let fake: FakeAnthropic | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it("records the seed's hook events for the run, a PostToolUse per tool call from claude's stream, and doom logs shows them", async () => {
    const { repo, database, cli } = await localSetup('  runner:\n    kind: claude-code\n    max_turns: 5\n  permissions:\n    sandbox: none\n');
    // A new file: Claude Code's Write refuses to overwrite one it has not read first.
    fake = await startFakeAnthropic({ kind: 'edit', filePath: 'NOTES.md', content: 'add() subtracts: see src/math.js\n' });
    // The executor builds the agent's environment from the bot's: the fake API is its model API.
    Object.assign(process.env, claudeTestEnv(fake.url, await tempDir()), { HOME: saved.HOME ?? '/root' });

    const out = await ok(...cli('assign', '--task', 'cc-001', '--type', 'bugfix', '--repo', repo, '--description', 'add() subtracts'));
    expect(out).toMatch(/branch doom\/1-add-subtracts at/);
    expect(await git(['show', 'doom/1-add-subtracts:NOTES.md'], { cwd: repo })).toBe('add() subtracts: see src/math.js');
    expect(fake.agentTurns()).toBe(2);

    const hooks = (await storeState(database)).hooks;
    expect(hooks.map((h) => h.type)).toEqual(['TaskStart', 'PostToolUse', 'TaskComplete']);
    expect(hooks.every((h) => h.task_id === 1 && h.run_id === hooks[0]!.run_id && h.agent_name === 'agent-bugfix-junior')).toBe(true);
    const use = JSON.parse(hooks[1]!.payload) as { tool: string; file: string; status: string; tool_use_id: string };
    expect(use).toMatchObject({ tool: 'Write', status: 'success' });
    expect(use.file).toMatch(/\/NOTES\.md$/);
    expect(JSON.parse(hooks[2]!.payload)).toMatchObject({ outcome: 'success', changed_files: ['NOTES.md'], turns: 2 });

    const logs = await ok(...cli('logs', '--task', 'cc-001'));
    const lines = logs.split('\n');
    const at = (type: string) => lines.findIndex((l) => l.includes(`hook.${type}`));
    expect(at('TaskStart')).toBeGreaterThan(-1);
    expect(at('PostToolUse')).toBeGreaterThan(at('TaskStart'));
    expect(at('TaskComplete')).toBeGreaterThan(at('PostToolUse'));
    expect(lines[at('PostToolUse')]).toContain('"tool":"Write"');
  }, 120_000);
});

const hasBwrap = await bwrapAvailable();

describe.skipIf(!hasBwrap)('doom demo with Claude Code (ANTHROPIC_API_KEY set)', () => {
  const saved = { ...process.env };
  let fake: FakeAnthropic | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('runs the real claude CLI, sandboxed, as the agent: it reads, then edits the bug away, and the loop goes on as with the scripted one', async () => {
    fake = await startFakeAnthropic({
      kind: 'calls',
      calls: [
        { name: 'Read', input: { file_path: 'src/math.js' } },
        { name: 'Edit', input: { file_path: 'src/math.js', old_string: 'return a - b;', new_string: 'return a + b;' } },
      ],
    });
    Object.assign(process.env, claudeTestEnv(fake.url, await tempDir()), { HOME: saved.HOME ?? '/root' });
    const dir = join(await tempDir(), 'demo');
    const out = await ok('demo', '--dir', dir);
    expect(out).toContain('Claude Code fixes it on a branch');
    expect(out).toMatch(/branch doom\/1-add-subtracts at [0-9a-f]{10}/);
    expect(out).toContain('pipeline on doom/1-add-subtracts: success');
    expect(out).toContain('(2 passed, 0 failed)');
    expect(out).toMatch(/final reward for agent-bugfix-junior: 4\.85/);
    expect(out).toContain('tier change: agent-bugfix-junior junior → principal');
    expect(fake.agentTurns()).toBe(3);

    const state = await storeState(join(dir, 'doom.db'));
    expect(state.hooks.map((h) => h.type)).toEqual(['TaskStart', 'PostToolUse', 'PostToolUse', 'TaskComplete']);
    expect(state.hooks.slice(1, 3).map((h) => JSON.parse(h.payload) as { tool: string; status: string })).toEqual([
      expect.objectContaining({ tool: 'Read', status: 'success' }),
      expect.objectContaining({ tool: 'Edit', status: 'success' }),
    ]);
    expect(JSON.parse(state.hooks[0]!.payload)).toMatchObject({ runner: 'claude-code', tier: 'junior' });
  }, 120_000);
});
