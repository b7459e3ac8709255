/**
 * The whole Claude Code path, as a user meets it: `doom init` in a repository, then the real
 * `claude` CLI (against the local fake Messages API) delegates to the subagent
 * agent-bugfix-junior, which reads and edits the bug away; when it stops, Claude Code runs the
 * SubagentStop hook `doom init` wrote, which runs the real `doom` binary (`doom evaluate`), and
 * the subagent's change gets its branch, pipeline, reward and hook events.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSampleRepository } from '../../src/forges/local/sample.js';
import { defaultClaudeBinary } from '../../src/runners/claude-code.js';
import { openStore } from '../../src/store/db.js';
import { git } from '../../src/workspace/git.js';
import { repoRoot } from '../helpers/app.js';
import { claudeTestEnv, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { ok, scrubEnvironment } from './harness.js';

scrubEnvironment();

const IDENTITY = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' };

/** Runs claude headless in `cwd`; stdin is closed at once (claude waits for piped input otherwise). */
function runClaude(cwd: string, env: Record<string, string>, prompt: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(defaultClaudeBinary(), ['-p', prompt, '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits', '--max-turns', '10'], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

describe('a Claude Code subagent scored by the SubagentStop hook doom init wrote', () => {
  let dir: string | undefined;
  let fake: FakeAnthropic | undefined;
  afterEach(async () => {
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs doom evaluate when the subagent stops: its change gets a branch, a pipeline and a reward', async () => {
    dir = await mkdtemp(join(tmpdir(), 'doom-claude-hook-'));
    const repo = join(dir, 'project');
    await mkdir(repo);
    await createSampleRepository(repo);
    await ok('init', '--dir', repo);
    await git(['add', '.claude'], { cwd: repo });
    await git(['commit', '--quiet', '-m', 'doom init'], { cwd: repo, env: IDENTITY });
    // `doom` on the hook's PATH, as `npm link` would put it.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'doom'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(repoRoot, 'bin/doom.js'))} "$@"\n`);
    await chmod(join(bin, 'doom'), 0o755);

    fake = await startFakeAnthropic({
      kind: 'route',
      // The subagent's system prompt is its .claude/agents/agent-bugfix-junior.md.
      when: 'junior-level Claude Code agent specialized in bugfix',
      then: {
        kind: 'calls',
        calls: [
          { name: 'Read', input: { file_path: 'src/math.js' } },
          { name: 'Edit', input: { file_path: 'src/math.js', old_string: 'return a - b;', new_string: 'return a + b;' } },
        ],
      },
      otherwise: {
        kind: 'calls',
        calls: [{ name: 'Agent', input: { subagent_type: 'agent-bugfix-junior', description: 'Fix add()', prompt: 'add() subtracts: fix it.' } }],
      },
    });
    const home = join(dir, 'home');
    await mkdir(home);
    const env = { ...claudeTestEnv(fake.url, home), PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };

    const run = await runClaude(repo, env, 'Use agent-bugfix-junior to fix add().');
    expect(run.code, run.stderr).toBe(0);
    // The subagent's edit is in the person's checkout, uncommitted, as Claude Code left it.
    expect(await readFile(join(repo, 'src/math.js'), 'utf8')).toContain('return a + b;');
    expect(await git(['status', '--porcelain'], { cwd: repo })).toBe(' M src/math.js');

    const store = await openStore(join(repo, '.claude/scoreboard/doom.db'));
    try {
      const events = await store.db.selectFrom('hook_events').selectAll().orderBy('id').execute();
      expect(events.map((e) => e.type)).toEqual(['TaskStart', 'PostToolUse', 'PostToolUse', 'TaskComplete', 'SubagentStop']);
      const stop = JSON.parse(events.at(-1)!.payload) as Record<string, unknown>;
      expect(stop).toMatchObject({ via: 'hook', agent_type: 'agent-bugfix-junior', evaluated: true, reward_kind: 'provisional', files: ['src/math.js'] });
      expect(stop.task_key).toMatch(/^session-[0-9a-f]{12}$/);
      const [reward] = await store.db.selectFrom('rewards').selectAll().execute();
      expect(reward).toMatchObject({ agent_name: 'agent-bugfix-junior', kind: 'provisional' });
      const [task] = await store.db.selectFrom('tasks').selectAll().execute();
      expect(await git(['show', `${task!.branch}:src/math.js`], { cwd: repo })).toContain('return a + b;');
    } finally {
      await store.close();
    }
  }, 180_000);
});
