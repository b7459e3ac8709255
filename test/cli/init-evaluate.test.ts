/**
 * `doom init` and `doom evaluate` through the CLI, as a Claude Code user meets them: init
 * writes the seed's `.claude/` structure into a real git repository (and refuses to overwrite
 * anything), then the SubagentStop hook's command scores a subagent's uncommitted change with
 * the hook's JSON on stdin: a branch, the repository's own test command as the pipeline, the
 * evaluator's reward, and the hook events. Real repositories, real SQLite stores.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createSampleRepository } from '../../src/forges/local/sample.js';
import { guessTestCommand } from '../../src/cli/init.js';
import { evaluationTarget, parseSubagentStop } from '../../src/forges/local/evaluate.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { openStore } from '../../src/store/db.js';
import { git } from '../../src/workspace/git.js';
import { doom, doomWithStdin, fails, ok, scrubEnvironment } from './harness.js';

scrubEnvironment();

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'doom-init-test-'));
  dirs.push(dir);
  return dir;
};
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const IDENTITY = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' };

async function sampleRepo() {
  const repo = join(await tempDir(), 'project');
  await mkdir(repo);
  const { fixPatch } = await createSampleRepository(repo);
  return { repo: await git(['rev-parse', '--show-toplevel'], { cwd: repo }), fixPatch };
}

describe('the pure parts', () => {
  it.each([
    [['package.json', 'Makefile'], ['npm', 'test']],
    [['pyproject.toml'], ['python3', '-m', 'pytest']],
    [['go.mod'], ['go', 'test', './...']],
    [['Cargo.toml'], ['cargo', 'test']],
    [['Makefile'], ['make', 'test']],
    [[], ['npm', 'test']],
  ])('guesses the test command from %j', (files, command) => {
    expect(guessTestCommand(files)).toEqual(command);
  });

  it('takes the task and agent from the flags, else from the hook input', () => {
    const input = { session_id: '3f2a9c1e-7b7d-4c1e-9a55-0d2f1f6b8e10', agent_type: 'agent-x' };
    expect(evaluationTarget({}, input)).toEqual({ key: 'session-3f2a9c1e7b7d', agent: 'agent-x', agentFrom: 'hook' });
    expect(evaluationTarget({ taskId: ' ', agentName: '' }, input)).toEqual({ key: 'session-3f2a9c1e7b7d', agent: 'agent-x', agentFrom: 'hook' });
    expect(evaluationTarget({ taskId: 'bug-1', agentName: 'agent-y' }, input)).toEqual({ key: 'bug-1', agent: 'agent-y', agentFrom: 'flag' });
    expect(() => evaluationTarget({ taskId: 'bug-1' }, null)).toThrow('no agent name');
    expect(parseSubagentStop('  \n')).toBeNull();
  });
});

describe('doom init', () => {
  it("writes the seed's .claude/ structure, which loads as a config with its agents and hook", async () => {
    const { repo } = await sampleRepo();
    const out = await ok('init', '--dir', repo);
    expect(out).toMatch(/Next:\n {2}1\. .*\n {2}2\. commit \.claude\/.*\n {2}3\. put `doom` on the PATH.*\n {2}4\. /);
    for (const path of ['.claude/doom-rlvr.toml', '.claude/settings.json', '.claude/agents/template.yml', '.claude/agents/agent-bugfix-junior.yml', '.claude/agents/agent-bugfix-junior.md']) {
      expect(out).toContain(path);
      expect(existsSync(join(repo, path))).toBe(true);
    }
    const loaded = loadConfig(join(repo, '.claude/doom-rlvr.toml'));
    expect(loaded.agents.map((a) => a.name).sort()).toEqual(['agent-bugfix-junior', 'agent-feature-junior', 'agent-refactor-junior', 'agent-security-junior']);
    expect(loaded.config.repositories[repo]?.commands.test.run).toEqual(['npm', 'test']);
    expect(loaded.config.evaluator.weights.test_coverage).toBe(0.3);

    const settings = JSON.parse(await readFile(join(repo, '.claude/settings.json'), 'utf8')) as { hooks: { SubagentStop: { matcher: string; hooks: { type: string; command: string }[] }[] } };
    const [entry] = settings.hooks.SubagentStop;
    expect(entry!.matcher.split('|')).toContain('agent-bugfix-junior');
    expect(entry!.hooks[0]!.type).toBe('command');
    expect(entry!.hooks[0]!.command).toMatch(/doom .*evaluate --task-id "\$\{DOOM_TASK_ID:-\}" --agent-name "\$\{DOOM_AGENT_NAME:-\}"/);
    // The Claude Code subagent carries the same name as the doom agent: SubagentStop reports it.
    expect(await readFile(join(repo, '.claude/agents/agent-bugfix-junior.md'), 'utf8')).toMatch(/^---\nname: agent-bugfix-junior\n/);
    // The store stays out of git, the ignore file itself does not.
    await writeFile(join(repo, '.claude/scoreboard/doom.db'), 'x');
    expect(await git(['status', '--porcelain', '--untracked-files=all', '.claude/scoreboard'], { cwd: repo })).toBe('?? .claude/scoreboard/.gitignore');
  });

  it('refuses to overwrite, names every file in the way, and writes nothing', async () => {
    const { repo } = await sampleRepo();
    await mkdir(join(repo, '.claude', 'agents'), { recursive: true });
    await writeFile(join(repo, '.claude/settings.json'), '{"mine":true}\n');
    await writeFile(join(repo, '.claude/agents/agent-bugfix-junior.md'), 'my own subagent\n');
    const error = await fails('init', '--dir', repo);
    expect(error).toContain('.claude/settings.json, .claude/agents/agent-bugfix-junior.md');
    expect(error).toContain('nothing was written');
    expect(existsSync(join(repo, '.claude/doom-rlvr.toml'))).toBe(false);
    expect(existsSync(join(repo, '.claude/agents/agent-feature-junior.yml'))).toBe(false);
    expect(await readFile(join(repo, '.claude/settings.json'), 'utf8')).toBe('{"mine":true}\n');

    // After a successful init, a second one changes nothing either.
    const other = (await sampleRepo()).repo;
    await ok('init', '--dir', other);
    const before = await readFile(join(other, '.claude/doom-rlvr.toml'), 'utf8');
    expect(await fails('init', '--dir', other)).toContain('.claude/doom-rlvr.toml');
    expect(await readFile(join(other, '.claude/doom-rlvr.toml'), 'utf8')).toBe(before);
  });

  it('says so outside a git repository', async () => {
    expect(await fails('init', '--dir', await tempDir())).toContain('is not inside a git repository');
  });
});

/** A transcript line pair as Claude Code writes a subagent's session: one Edit and its result. */
const subagentTranscript = (file: string) =>
  [
    { type: 'assistant', message: { id: 'msg_1', role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Edit', input: { file_path: file, old_string: 'a - b', new_string: 'a + b' } }], usage: { input_tokens: 900, output_tokens: 120, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } },
    { type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'The file has been updated.' }] } },
  ].map((l) => JSON.stringify(l)).join('\n');

/** An initialised sample repository with `.claude/` committed and the subagent's fix in the working tree. */
async function initialised() {
  const { repo, fixPatch } = await sampleRepo();
  await ok('init', '--dir', repo);
  await git(['add', '.claude'], { cwd: repo });
  await git(['commit', '--quiet', '-m', 'doom init'], { cwd: repo, env: IDENTITY });
  const patchFile = join(repo, '..', 'fix.patch');
  await writeFile(patchFile, fixPatch);
  await git(['apply', patchFile], { cwd: repo });
  const transcriptPath = join(repo, '..', 'agent-abc.jsonl');
  await writeFile(transcriptPath, subagentTranscript(join(repo, 'src/math.js')));
  const config = join(repo, '.claude/doom-rlvr.toml');
  const database = join(repo, '.claude/scoreboard/doom.db');
  const hookInput = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      session_id: '3f2a9c1e-7b7d-4c1e-9a55-0d2f1f6b8e10',
      transcript_path: join(repo, '..', 'session.jsonl'),
      cwd: repo,
      permission_mode: 'default',
      hook_event_name: 'SubagentStop',
      stop_hook_active: false,
      agent_id: 'agent-abc',
      agent_type: 'agent-bugfix-junior',
      agent_transcript_path: transcriptPath,
      last_assistant_message: 'Fixed add(): it subtracted.',
      ...over,
    });
  // What the hook runs, with DOOM_TASK_ID and DOOM_AGENT_NAME unset.
  const hook = (stdin: string) => doomWithStdin(stdin, '--config', config, '--database', database, 'evaluate', '--task-id', '', '--agent-name', '');
  return { repo, config, database, hookInput, hook };
}

async function hookEvents(database: string) {
  const store = await openStore(database);
  try {
    return await store.db.selectFrom('hook_events').selectAll().orderBy('id').execute();
  } finally {
    await store.close();
  }
}

describe('doom evaluate (the SubagentStop hook)', () => {
  it("scores the subagent's change from the hook input: branch, pipeline, reward, hook events; the checkout is untouched", async () => {
    const { repo, config, database, hookInput, hook } = await initialised();
    const statusBefore = await git(['status', '--porcelain'], { cwd: repo });
    const headBefore = await git(['rev-parse', 'HEAD'], { cwd: repo });

    const run = await hook(hookInput());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('SubagentStop: agent-bugfix-junior on task session-3f2a9c1e7b7d');
    expect(run.stdout).toMatch(/branch doom\/1-session-3f2a9c1e7b7d-agent-bugfix-junior at [0-9a-f]{10}/);
    expect(run.stdout).toContain('pipeline on main: failed');
    expect(run.stdout).toMatch(/pipeline on doom\/1-\S+: success/);
    expect(run.stdout).toMatch(/provisional reward for agent-bugfix-junior: \d\.\d\d/);
    expect(run.stdout).toContain('review approve|request-changes|merge|close session-3f2a9c1e7b7d');

    // The person's checkout, index and HEAD are as they were; the branch holds the change.
    expect(await git(['status', '--porcelain'], { cwd: repo })).toBe(statusBefore);
    expect(await git(['rev-parse', 'HEAD'], { cwd: repo })).toBe(headBefore);
    const branch = /branch (doom\/\S+)/.exec(run.stdout)![1]!;
    expect(await git(['show', `${branch}:src/math.js`], { cwd: repo })).toContain('return a + b;');

    const events = await hookEvents(database);
    expect(events.map((e) => e.type)).toEqual(['TaskStart', 'PostToolUse', 'TaskComplete', 'SubagentStop']);
    expect(JSON.parse(events[1]!.payload)).toMatchObject({ tool: 'Edit', file: join(repo, 'src/math.js'), status: 'success' });
    expect(JSON.parse(events[2]!.payload)).toMatchObject({ outcome: 'success', tokens_used: 1020, changed_files: ['src/math.js'] });
    const stop = events[3]!;
    expect(stop).toMatchObject({ agent_name: 'agent-bugfix-junior', failed: 0 });
    expect(stop.run_id).toBe(events[0]!.run_id);
    expect(JSON.parse(stop.payload)).toMatchObject({
      via: 'hook',
      task_key: 'session-3f2a9c1e7b7d',
      session_id: '3f2a9c1e-7b7d-4c1e-9a55-0d2f1f6b8e10',
      agent_id: 'agent-abc',
      evaluated: true,
      files: ['src/math.js'],
      reward_kind: 'provisional',
      last_assistant_message: 'Fixed add(): it subtracted.',
    });

    // The reward moves as any local task's: the review makes it final.
    const cli = (...args: string[]) => ok('--config', config, '--database', database, ...args);
    expect(await cli('review', 'close', 'session-3f2a9c1e7b7d')).toMatch(/final reward for agent-bugfix-junior/);
    const logs = await cli('logs', '--task', 'session-3f2a9c1e7b7d');
    for (const type of ['TaskStart', 'PostToolUse', 'TaskComplete', 'SubagentStop']) expect(logs).toContain(`hook.${type}`);

    // The next subagent on the same task is another attempt, on the next branch (the first was closed).
    const again = await hook(hookInput({ agent_id: 'agent-def' }));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/branch doom\/1-\S+-2 at/);
    expect(again.stdout).toMatch(/provisional reward for agent-bugfix-junior/);
  }, 120_000);

  it('keeps the change the person commits: review merge then merges the branch cleanly and settles the reward', async () => {
    const { repo, config, database, hookInput, hook } = await initialised();
    expect((await hook(hookInput())).code).toBe(0);
    await git(['commit', '--quiet', '-am', 'Keep the subagent\'s fix'], { cwd: repo, env: IDENTITY });
    const merged = await ok('--config', config, '--database', database, 'review', 'merge', 'session-3f2a9c1e7b7d');
    expect(merged).toMatch(/final reward for agent-bugfix-junior: \d\.\d\d/);
    expect(merged).toContain('review_feedback_score  0.40');
    expect(await git(['log', '-1', '--format=%s'], { cwd: repo })).toContain("Merge branch 'doom/1-");
    expect(await readFile(join(repo, 'src/math.js'), 'utf8')).toContain('return a + b;');
  }, 60_000);

  it('starts no agent for another run it finds due: that run fails saying its change is gone', async () => {
    const { repo, config, database, hookInput, hook } = await initialised();
    // A task left waiting (as an interrupted evaluation leaves one), for a Claude Code agent.
    await ok('--config', config, '--database', database, 'assign', '--task', 'left-1', '--type', 'feature', '--repo', repo, '--no-run');
    const run = await hook(hookInput());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/provisional reward for agent-bugfix-junior/);
    const store = await openStore(database);
    try {
      const runs = await store.db.selectFrom('assignments').selectAll().orderBy('agent_name').execute();
      expect(runs.map((r) => [r.agent_name, r.status])).toEqual([['agent-bugfix-junior', 'completed'], ['agent-feature-junior', 'failed']]);
      expect(runs[1]!.error).toContain('doom evaluate runs only the change of the subagent that stopped');
    } finally {
      await store.close();
    }
  }, 60_000);

  it('skips a subagent that is not a doom agent, and a working tree without a change', async () => {
    const { repo, database, hookInput, hook } = await initialised();
    const explore = await hook(hookInput({ agent_type: 'Explore' }));
    expect(explore.code, explore.stderr).toBe(0);
    expect(explore.stdout).toContain("not evaluated: Explore is not one of doom-rlvr's agents");

    await git(['checkout', '--', 'src/math.js'], { cwd: repo });
    const clean = await hook(hookInput());
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain('has no change against HEAD: nothing to evaluate');
    const events = await hookEvents(database);
    expect(events.map((e) => [e.type, e.failed])).toEqual([['SubagentStop', 0]]);
  });

  it('names what is wrong: a bad hook input, no task id, an unknown agent named by flag', async () => {
    const { config, database, hook } = await initialised();
    const cli = ['--config', config, '--database', database, 'evaluate'];
    expect((await hook('{not json')).stderr).toContain('the hook input on stdin is not JSON');
    expect((await hook('{"agent_type": 7}')).stderr).toContain('agent_type: Invalid input');
    expect(await fails(...cli, '--agent-name', 'agent-bugfix-junior')).toContain('no task id: give --task-id');
    const unknown = await doom(...cli, '--task-id', 'bug-1', '--agent-name', 'agent-nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("agent-nobody is not one of doom-rlvr's agents");
  });

  it('without the repository commands it records a failed SubagentStop, counted by doom_hooks_failed_total', async () => {
    const { repo, database, hookInput } = await initialised();
    // The same agents, but a config that names no commands for this repository.
    const bare = join(repo, '..', 'bare-config');
    await mkdir(join(bare, 'agents'), { recursive: true });
    await writeFile(join(bare, 'doom-rlvr.toml'), `[executor]\nmirror_dir = ${JSON.stringify(join(bare, 'mirrors'))}\nworkspace_dir = ${JSON.stringify(join(bare, 'ws'))}\n`);
    await writeFile(join(bare, 'agents', 'agent-bugfix-junior.yml'), await readFile(join(repo, '.claude/agents/agent-bugfix-junior.yml'), 'utf8'));
    const run = await doomWithStdin(hookInput(), '--config', join(bare, 'doom-rlvr.toml'), '--database', database, 'evaluate');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('the local pipeline has nothing to run');
    expect(run.stderr).toContain('no reward was recorded for task session-3f2a9c1e7b7d');
    const stop = (await hookEvents(database)).at(-1)!;
    expect(stop).toMatchObject({ type: 'SubagentStop', failed: 1 });

    const store = await openStore(database);
    try {
      const text = await createMetrics(store.db, loadConfig(join(bare, 'doom-rlvr.toml')).config).metrics();
      expect(text).toContain('doom_hooks_failed_total{hook="SubagentStop"} 1');
      expect(text).toContain('doom_hooks_failed_total{hook="evaluator"} 0');
    } finally {
      await store.close();
    }
    expect((await doom('--database', database, 'logs', '--task', 'session-3f2a9c1e7b7d')).stdout).toContain('hook.SubagentStop');
  }, 60_000);
});
