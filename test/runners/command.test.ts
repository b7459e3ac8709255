import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandRunner, fillArgv, readReportedUsage } from '../../src/runners/command.js';
import { commandRunnerConfig, permissionsConfig } from '../../src/runners/config.js';
import { abortReasons, isAlive } from '../../src/runners/process.js';
import type { RunnerInput, Usage } from '../../src/runners/runner.js';
import { makeWorkspace, processesIn, waitFor, type Workspace } from './workspace.js';

/** A tiny stand-in for a CLI agent: its behaviour is chosen by its first argument. */
const agentScript = `
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
const [mode, ...rest] = process.argv.slice(2);
const arg = (name) => rest[rest.indexOf(name) + 1];
const stdin = () => { try { return readFileSync(0, 'utf8'); } catch { return ''; } };
if (mode === 'stdin') {
  const prompt = stdin();
  writeFileSync('agent-output.txt', 'prompt was: ' + prompt);
  console.log('read ' + prompt.length + ' chars from stdin');
} else if (mode === 'file') {
  const prompt = readFileSync(arg('--prompt'), 'utf8');
  const system = readFileSync(arg('--system'), 'utf8');
  writeFileSync('agent-output.txt', system + '|' + prompt);
  writeFileSync(arg('--usage'), JSON.stringify({ input_tokens: 500, output_tokens: 50, cost_usd: 0.02, turns: 3 }));
  console.log('workdir ' + arg('--workdir'));
} else if (mode === 'fail') {
  console.error('agent: cannot do that');
  process.exit(3);
} else if (mode === 'hang') {
  // A grandchild in a session of its own, as agents' shells often are.
  const g = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  writeFileSync('grandchild.pid', String(g.pid));
  setInterval(() => {}, 1000);
}
`;

let ws: Workspace | undefined;
afterEach(() => {
  ws?.cleanup();
  ws = undefined;
});

const setup = (): { w: Workspace; script: string } => {
  ws = makeWorkspace();
  const script = join(ws.home, 'agent.mjs');
  writeFileSync(script, agentScript);
  return { w: ws, script };
};

const input = (w: Workspace, over: Partial<RunnerInput> = {}): RunnerInput => ({
  workdir: w.workdir,
  prompt: 'Fix the bug in README.md',
  systemPrompt: 'You are a senior agent.',
  toolsAllowed: [],
  maxTurns: 5,
  maxTokens: 100_000,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: w.home },
  signal: new AbortController().signal,
  ...over,
});

/** Process handling is what these tests are about; the sandbox has its own (sandbox.test.ts). */
const plain = { permissions: permissionsConfig.parse({ sandbox: 'none' }) };

const cfg = (argv: string[], prompt_via: 'stdin' | 'file') => commandRunnerConfig.parse({ kind: 'command', argv, prompt_via });

describe('CommandRunner', () => {
  it('passes the prompt on stdin and keeps stdout as the transcript', async () => {
    const { w, script } = setup();
    const res = await new CommandRunner(cfg([process.execPath, script, 'stdin'], 'stdin'), plain).run(input(w));
    expect(res.outcome).toBe('success');
    expect(readFileSync(join(w.workdir, 'agent-output.txt'), 'utf8')).toBe('prompt was: Fix the bug in README.md');
    expect(res.transcript).toContain('read 24 chars from stdin');
    expect(res.usage.inputTokens + res.usage.outputTokens).toBe(0);
  });

  it('passes the prompt and system prompt by file, outside the worktree, and reads reported usage', async () => {
    const { w, script } = setup();
    const usages: Usage[] = [];
    const runner = new CommandRunner(
      cfg(
        [process.execPath, script, 'file', '--prompt', '{prompt_file}', '--system', '{system_prompt_file}', '--usage', '{usage_file}', '--workdir', '{workdir}'],
        'file',
      ),
      plain,
    );
    const res = await runner.run(input(w, { onUsage: (u) => usages.push(u) }));
    expect(res.outcome).toBe('success');
    expect(readFileSync(join(w.workdir, 'agent-output.txt'), 'utf8')).toBe('You are a senior agent.|Fix the bug in README.md');
    expect(res.transcript).toContain(`workdir ${w.workdir}`);
    expect(res.usage).toEqual({ inputTokens: 500, outputTokens: 50, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0.02, turns: 3 });
    expect(usages).toEqual([res.usage]);
    // Only the agent's own output is in the worktree: no prompt file left there.
    expect(w.git('status', '--porcelain').trim()).toBe('?? agent-output.txt');
  });

  it('fails on a non-zero exit, with stderr in the error and the transcript', async () => {
    const { w, script } = setup();
    const res = await new CommandRunner(cfg([process.execPath, script, 'fail'], 'stdin'), plain).run(input(w));
    expect(res.outcome).toBe('failed');
    expect(res.error).toContain('exited with 3');
    expect(res.error).toContain('agent: cannot do that');
    expect(res.transcript).toContain('agent: cannot do that');
  });

  it('fails on reported usage over the budget', async () => {
    const { w, script } = setup();
    const runner = new CommandRunner(
      cfg([process.execPath, script, 'file', '--prompt', '{prompt_file}', '--system', '{system_prompt_file}', '--usage', '{usage_file}'], 'file'),
      plain,
    );
    const res = await runner.run(input(w, { maxTokens: 100 }));
    expect(res.outcome).toBe('token_limit');
  });

  it('on timeout kills the agent and a grandchild in its own session', async () => {
    const { w, script } = setup();
    const controller = new AbortController();
    const pids: number[] = [];
    const runner = new CommandRunner(cfg([process.execPath, script, 'hang'], 'stdin'), { ...plain, onSpawn: (p) => pids.push(p), killGraceMs: 500 });
    const running = runner.run(input(w, { signal: controller.signal }));
    const pidFile = join(w.workdir, 'grandchild.pid');
    await waitFor(() => {
      try {
        return readFileSync(pidFile, 'utf8') !== '';
      } catch {
        return false;
      }
    });
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(isAlive(grandchild)).toBe(true);
    controller.abort(abortReasons.timeout());
    const res = await running;
    expect(res.outcome).toBe('timeout');
    expect(isAlive(pids[0] as number)).toBe(false);
    await waitFor(() => !isAlive(grandchild));
    expect(processesIn(w.workdir)).toEqual([]);
  });

  it('says cancelled for a plain abort, and failed when the program does not exist', async () => {
    const { w } = setup();
    const controller = new AbortController();
    const running = new CommandRunner(cfg(['sleep', '300'], 'stdin'), plain).run(input(w, { signal: controller.signal }));
    controller.abort();
    expect((await running).outcome).toBe('cancelled');
    const missing = await new CommandRunner(cfg([join(w.home, 'nope')], 'stdin'), plain).run(input(w));
    expect(missing.outcome).toBe('failed');
    expect(missing.error).toMatch(/could not start/);
  });
});

describe('fillArgv and readReportedUsage', () => {
  it('fills placeholders anywhere in an argument, without a shell', () => {
    expect(
      fillArgv(['aider', '--message-file={prompt_file}', '{workdir}', '$(rm -rf /)', '{other}'], {
        prompt_file: '/t/p.md',
        system_prompt_file: '/t/s.md',
        workdir: '/w',
        usage_file: '/t/u.json',
      }),
    ).toEqual(['aider', '--message-file=/t/p.md', '/w', '$(rm -rf /)', '{other}']);
  });

  it('reads zero usage from a missing or malformed file', async () => {
    ws = makeWorkspace();
    const f = join(ws.home, 'u.json');
    expect((await readReportedUsage(f)).inputTokens).toBe(0);
    writeFileSync(f, 'not json');
    expect((await readReportedUsage(f)).turns).toBe(0);
    writeFileSync(f, JSON.stringify({ input_tokens: -5, output_tokens: 'x', turns: 2 }));
    expect(await readReportedUsage(f)).toMatchObject({ inputTokens: 0, outputTokens: 0, turns: 2 });
  });
});
