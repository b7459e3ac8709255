/**
 * The real Claude Code CLI (the installed @anthropic-ai/claude-code binary) through
 * ClaudeCodeRunner, against a local fake of the Anthropic Messages API.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaudeCodeRunner, claudeCodeArgv, defaultClaudeBinary } from '../../src/runners/claude-code.js';
import { abortReasons, isAlive } from '../../src/runners/process.js';
import { tokensUsed, type RunnerInput, type Usage } from '../../src/runners/runner.js';
import { claudeTestEnv, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { makeWorkspace, processesIn, waitFor, type Workspace } from './workspace.js';

let fake: FakeAnthropic | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await fake?.close();
  ws?.cleanup();
  fake = undefined;
  ws = undefined;
});

const baseInput = (w: Workspace, f: FakeAnthropic, over: Partial<RunnerInput> = {}): RunnerInput => ({
  workdir: w.workdir,
  prompt: 'Create hello.txt with a greeting.',
  systemPrompt: 'You are a junior-level Claude Code agent specialized in bugfix tasks.',
  toolsAllowed: ['Read', 'Edit', 'Bash', 'Grep'],
  maxTurns: 10,
  maxTokens: 1_000_000,
  env: claudeTestEnv(f.url, w.home),
  signal: new AbortController().signal,
  ...over,
});

describe('ClaudeCodeRunner with the real claude binary', () => {
  it('lands the edit in the worktree and records usage and the transcript', async () => {
    ws = makeWorkspace();
    const target = join(ws.workdir, 'hello.txt');
    fake = await startFakeAnthropic({ kind: 'edit', filePath: target, content: 'hello from the agent\n' });
    const pids: number[] = [];
    const seen: Usage[] = [];
    const runner = new ClaudeCodeRunner({ onSpawn: (p) => pids.push(p), permissions: { forbidden_paths: ['/etc/shadow'], sandbox: 'none' } });

    const res = await runner.run(baseInput(ws, fake, { onUsage: (u) => seen.push(u) }));

    expect(res.error).toBeUndefined();
    expect(res.outcome).toBe('success');
    expect(readFileSync(target, 'utf8')).toBe('hello from the agent\n');
    expect(ws.git('status', '--porcelain')).toContain('?? hello.txt');
    // Two main-loop calls of the fake, each 120 in / 30 out / 50 cache-write / 10 cache-read.
    expect(res.usage).toMatchObject({
      inputTokens: 240,
      outputTokens: 60,
      cacheCreationTokens: 100,
      cacheReadTokens: 20,
      turns: 2,
    });
    expect(res.usage.costUsd).toBeGreaterThan(0);
    // Reported as the stream goes: at least once, the last report the final figures. (How many
    // reports two turns give depends on how claude batches its stream lines: seen 1 and 2.)
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.at(-1)).toEqual(res.usage);

    const lines = res.transcript.split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines[0]?.type).toBe('system');
    expect(lines.map((l) => l.type)).toEqual(expect.arrayContaining(['assistant', 'user', 'result']));
    expect(lines.at(-1)?.type).toBe('result');

    // What claude sent: our prompt (stdin), our system prompt appended, only the allowed tools.
    const turns = fake.requests.filter((r) => r.agentTurn);
    expect(turns).toHaveLength(2);
    const first = JSON.stringify(turns[0]?.body);
    expect(first).toContain('Create hello.txt with a greeting.');
    expect(first).toContain('junior-level Claude Code agent specialized in bugfix');
    const tools = (turns[0]?.body as { tools: { name: string }[] }).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['Bash', 'Edit', 'Grep', 'Read', 'Write']);
    expect(fake.unknown).toEqual([]);

    expect(pids).toHaveLength(1);
    expect(isAlive(pids[0] as number)).toBe(false);
  });

  it('stops a run that passes max_tokens with outcome token_limit and leaves no process', async () => {
    ws = makeWorkspace();
    fake = await startFakeAnthropic({ kind: 'loop' });
    const pids: number[] = [];
    const seen: number[] = [];
    const runner = new ClaudeCodeRunner({ onSpawn: (p) => pids.push(p), killGraceMs: 1000 });

    const res = await runner.run(
      baseInput(ws, fake, { maxTurns: 200, maxTokens: 100_000, onUsage: (u) => seen.push(tokensUsed(u)) }),
    );

    expect(res.outcome).toBe('token_limit');
    expect(res.error).toContain('100000');
    expect(tokensUsed(res.usage)).toBeGreaterThan(100_000);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    // 42k tokens a turn: stopped at the third turn or very soon after, far from the turn cap.
    expect(fake.agentTurns()).toBeLessThan(10);
    expect(res.transcript).toContain('"type":"assistant"');
    expect(isAlive(pids[0] as number)).toBe(false);
    expect(processesIn(ws.workdir)).toEqual([]);
  });

  it('stops on an aborted signal with outcome timeout, killing the Bash tool children too', async () => {
    ws = makeWorkspace();
    // Each turn runs a long sleep: Claude Code runs it in a session of its own (setsid).
    fake = await startFakeAnthropic({ kind: 'loop', call: { name: 'Bash', input: { command: 'sleep 300' } } });
    const controller = new AbortController();
    const pids: number[] = [];
    const runner = new ClaudeCodeRunner({ onSpawn: (p) => pids.push(p), killGraceMs: 1000 });
    const running = runner.run(baseInput(ws, fake, { maxTurns: 200, signal: controller.signal }));

    const w = ws;
    // Wait until the sleep runs in the worktree: claude itself plus its shell and sleep.
    await waitFor(() => processesIn(w.workdir).length >= 2);
    const before = processesIn(w.workdir);
    controller.abort(abortReasons.timeout());
    const res = await running;

    expect(res.outcome).toBe('timeout');
    expect(isAlive(pids[0] as number)).toBe(false);
    // Sandboxed, the kernel ends the rest of the PID namespace as its init exits: wait for that
    // (bounded by the test's timeout), rather than catching a process mid-exit.
    await waitFor(() => before.every((pid) => !isAlive(pid)));
    expect(processesIn(w.workdir)).toEqual([]);
  });

  it('says cancelled for a plain abort, and fails cleanly when the binary is missing', async () => {
    ws = makeWorkspace();
    fake = await startFakeAnthropic({ kind: 'loop' });
    const controller = new AbortController();
    controller.abort();
    const cancelled = await new ClaudeCodeRunner().run(baseInput(ws, fake, { signal: controller.signal }));
    expect(cancelled.outcome).toBe('cancelled');

    const missing = await new ClaudeCodeRunner({ binary: join(ws.home, 'no-such-claude') }).run(baseInput(ws, fake));
    expect(missing.outcome).toBe('failed');
    expect(missing.error).toMatch(/could not start claude/);
  });

  it('fails (not success) when the turn cap is reached', async () => {
    ws = makeWorkspace();
    fake = await startFakeAnthropic({ kind: 'loop', usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } });
    const res = await new ClaudeCodeRunner({ maxTurns: 2 }).run(baseInput(ws, fake, { maxTurns: 50 }));
    expect(res.outcome).toBe('failed');
    expect(res.error).toMatch(/error_max_turns/);
    expect(fake.agentTurns()).toBe(2);
  });
});

describe('ClaudeCodeRunner budgets', () => {
  it('passes the step\'s dollar budget as --max-budget-usd and stops as a budget stop when claude spends it', async () => {
    ws = makeWorkspace();
    fake = await startFakeAnthropic({ kind: 'loop' });
    const res = await new ClaudeCodeRunner({ permissions: { forbidden_paths: [], sandbox: 'none' } }).run(baseInput(ws, fake, { maxTurns: 50, maxBudgetUsd: 0.0001 }));
    expect(res.outcome).toBe('token_limit');
    expect(res.error).toBe('claude reached its budget of $0.000100');
    expect(fake.agentTurns()).toBeLessThan(50);
  });
});

describe('ClaudeCodeRunner permissions, enforced by the real claude', () => {
  const denied = (transcript: string): unknown[] => {
    const last = JSON.parse(transcript.split('\n').at(-1) ?? '{}') as { permission_denials?: unknown[] };
    return last.permission_denials ?? [];
  };

  it('denies commands outside allowed_commands', async () => {
    ws = makeWorkspace();
    fake = await startFakeAnthropic({ kind: 'loop', call: { name: 'Bash', input: { command: 'touch made-by-agent.txt' } } });
    const runner = new ClaudeCodeRunner({ permissions: { allowed_commands: ['git'], forbidden_paths: [], sandbox: 'none' } });
    const res = await runner.run(baseInput(ws, fake, { maxTurns: 1 }));
    expect(existsSync(join(ws.workdir, 'made-by-agent.txt'))).toBe(false);
    expect(denied(res.transcript)).toEqual([expect.objectContaining({ tool_name: 'Bash' })]);
  });

  it('allows the listed commands', async () => {
    ws = makeWorkspace();
    fake = await startFakeAnthropic({ kind: 'loop', call: { name: 'Bash', input: { command: 'git branch made-by-agent' } } });
    const runner = new ClaudeCodeRunner({ permissions: { allowed_commands: ['git'], forbidden_paths: [], sandbox: 'none' } });
    const res = await runner.run(baseInput(ws, fake, { maxTurns: 1 }));
    expect(denied(res.transcript)).toEqual([]);
    expect(ws.git('branch', '--list', 'made-by-agent')).toContain('made-by-agent');
  });

  it('denies writes outside the worktree', async () => {
    ws = makeWorkspace();
    const outside = join(ws.home, 'outside.txt');
    fake = await startFakeAnthropic({ kind: 'edit', filePath: outside, content: 'nope' });
    const res = await new ClaudeCodeRunner().run(baseInput(ws, fake));
    expect(existsSync(outside)).toBe(false);
    expect(denied(res.transcript)).toEqual([expect.objectContaining({ tool_name: 'Write' })]);
  });

  it('denies reading forbidden paths', async () => {
    ws = makeWorkspace({ 'README.md': 'x', '.env': 'SECRET=1' });
    fake = await startFakeAnthropic({ kind: 'loop', call: { name: 'Read', input: { file_path: join(ws.workdir, '.env') } } });
    const runner = new ClaudeCodeRunner({ permissions: { forbidden_paths: ['.env'], sandbox: 'none' } });
    const res = await runner.run(baseInput(ws, fake, { maxTurns: 1 }));
    expect(res.transcript).not.toContain('SECRET=1');
    expect(res.transcript).toMatch(/denied by your permission settings/);
    // What went back to the model did not carry the secret either.
    expect(JSON.stringify(fake.requests)).not.toContain('SECRET=1');
  });
});

describe('claudeCodeArgv', () => {
  it('builds a headless, permission-scoped command line with variadic lists last', () => {
    const argv = claudeCodeArgv(
      'claude',
      { maxTurns: 7, model: 'sonnet', systemPrompt: 'Be careful.' },
      { tools: ['Read', 'Bash'], allow: ['Read', 'Bash(git *)'], deny: ['Read(//etc/**)'] },
    );
    expect(argv.slice(0, 12)).toEqual([
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--permission-mode',
      'dontAsk',
      '--setting-sources',
      'user',
      '--strict-mcp-config',
      '--no-session-persistence',
      '--max-turns',
    ]);
    expect(argv).toContain('--append-system-prompt');
    expect(argv.slice(argv.indexOf('--model'), argv.indexOf('--model') + 2)).toEqual(['--model', 'sonnet']);
    expect(argv.slice(argv.indexOf('--tools'), argv.indexOf('--tools') + 2)).toEqual(['--tools', 'Read,Bash']);
    expect(argv.slice(-5)).toEqual(['--allowedTools', 'Read', 'Bash(git *)', '--disallowedTools', 'Read(//etc/**)']);
    expect(argv).not.toContain('--max-budget-usd');
    const budgeted = claudeCodeArgv('claude', { maxTurns: 7, systemPrompt: '', maxBudgetUsd: 0.25 }, { tools: ['Read'], allow: [], deny: [] });
    expect(budgeted.slice(budgeted.indexOf('--max-budget-usd'), budgeted.indexOf('--max-budget-usd') + 2)).toEqual(['--max-budget-usd', '0.250000']);
  });

  it('finds the bundled binary', () => {
    expect(defaultClaudeBinary()).toMatch(/@anthropic-ai\/claude-code\/bin\/claude(\.exe)?$/);
  });
});
