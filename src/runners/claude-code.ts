/**
 * The real Claude Code CLI in headless mode. The prompt goes on stdin, the agent's system
 * prompt is appended to Claude Code's own, and the `stream-json` output is read as it
 * arrives: usage is reported as it grows and the run is killed the moment it passes its
 * token budget. The raw stream lines are the transcript.
 *
 * Flags, and why:
 * - `-p --output-format stream-json --verbose`: headless, one JSON object per line
 *   (`stream-json` requires `--verbose` in print mode);
 * - `--permission-mode dontAsk`: nobody can answer a prompt in a headless run, and this mode
 *   turns every would-be prompt into a denial, so only the allow rules below run. Not
 *   `bypassPermissions` (allows everything, and Claude Code refuses it as root) and not
 *   `acceptEdits` (allows every edit, and leaves commands to prompts that cannot be answered);
 * - `--tools`, `--allowedTools`, `--disallowedTools`: see claude-permissions.ts;
 * - `--setting-sources user` and `--strict-mcp-config`: the repository under work does not
 *   get to add permission rules, hooks or MCP servers through its own `.claude/` or `.mcp.json`;
 * - `--no-session-persistence`: the transcript is kept with the run, not in the agent's HOME;
 * - `--max-turns` and, when the pipeline gives the step a dollar budget, `--max-budget-usd`.
 */
import { realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { claudePermissionRules, type ClaudePermissionRules } from './claude-permissions.js';
import { defaultPermissions, type PermissionsConfig } from './config.js';
import { abortOutcome, runProcess, stopMessage, TailBuffer } from './process.js';
import { tokensUsed, type Runner, type RunnerInput, type RunnerResult, type Usage } from './runner.js';
import { openAgentSandbox, ProgramNotFoundError, refusedNote, type Sandbox, type SandboxContext } from './sandbox.js';
import { StreamJsonParser } from './stream-json.js';

export interface ClaudeCodeRunnerOptions {
  /** Path to `claude`; the bundled `@anthropic-ai/claude-code` binary by default. */
  binary?: string;
  model?: string;
  /** The agent's turn cap; the tighter of this and `input.maxTurns` applies. */
  maxTurns?: number;
  permissions?: PermissionsConfig;
  /** Time between SIGTERM and SIGKILL when a run is stopped. */
  killGraceMs?: number;
  /** Called with the pid of the spawned process (tests check it is gone afterwards). */
  onSpawn?: (pid: number) => void;
  sandbox?: SandboxContext;
}

/** The `claude` binary of the installed `@anthropic-ai/claude-code` package, else `claude` on PATH. */
export const defaultClaudeBinary = (): string => {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('@anthropic-ai/claude-code/package.json');
    const pkg = require(pkgPath) as { bin?: Record<string, string> | string };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.claude;
    return bin ? join(dirname(pkgPath), bin) : 'claude';
  } catch {
    return 'claude';
  }
};

/** Pure: the argv for one run (before any sandbox wrapping). */
export const claudeCodeArgv = (
  binary: string,
  opts: { maxTurns: number; model?: string; systemPrompt: string; maxBudgetUsd?: number },
  rules: ClaudePermissionRules,
): string[] => {
  const argv = [
    binary,
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
    String(opts.maxTurns),
  ];
  if (opts.systemPrompt.trim() !== '') argv.push('--append-system-prompt', opts.systemPrompt);
  if (opts.model) argv.push('--model', opts.model);
  // The pipeline's dollar budget for this step: claude stops itself when it is spent.
  if (opts.maxBudgetUsd !== undefined && Number.isFinite(opts.maxBudgetUsd)) argv.push('--max-budget-usd', Math.max(0.000001, opts.maxBudgetUsd).toFixed(6));
  argv.push('--tools', rules.tools.join(','));
  // Variadic options last, each list ended by the next option or the end of argv.
  if (rules.allow.length > 0) argv.push('--allowedTools', ...rules.allow);
  if (rules.deny.length > 0) argv.push('--disallowedTools', ...rules.deny);
  return argv;
};

/**
 * The directories the sandbox must show for `binary` to run: its own (resolved through
 * symlinks, so an npm bin link finds the package) and, for the npm package, the scope folder
 * that holds the platform binary beside it. Bare names on PATH live in the toolchain already.
 */
export const binaryDirs = async (binary: string): Promise<string[]> => {
  if (!binary.includes('/')) return [];
  const real = await realpath(binary).catch(() => binary);
  const pkg = dirname(dirname(real));
  return dirname(pkg).endsWith('/@anthropic-ai') ? [dirname(pkg)] : [dirname(real)];
};

const sameUsage = (a: Usage, b: Usage): boolean =>
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  a.cacheReadTokens === b.cacheReadTokens &&
  a.cacheCreationTokens === b.cacheCreationTokens &&
  a.costUsd === b.costUsd &&
  a.turns === b.turns;

export class ClaudeCodeRunner implements Runner {
  readonly kind = 'claude-code';

  constructor(private readonly opts: ClaudeCodeRunnerOptions = {}) {}

  async run(input: RunnerInput): Promise<RunnerResult> {
    const permissions = this.opts.permissions ?? defaultPermissions();
    const parser = new StreamJsonParser();
    const transcript: string[] = [];
    const result = (r: Omit<RunnerResult, 'usage' | 'transcript'>): RunnerResult => ({
      ...r,
      usage: parser.usage,
      transcript: transcript.join('\n'),
    });
    if (input.signal.aborted) return result({ outcome: abortOutcome(input.signal) });

    let box: Sandbox;
    try {
      const workdir = await realpath(input.workdir);
      const homes = [homedir(), ...(input.env.HOME ? [input.env.HOME] : [])];
      const rules = claudePermissionRules(input.toolsAllowed, permissions, { workdir, homes });
      const maxTurns = Math.min(input.maxTurns, this.opts.maxTurns ?? Number.POSITIVE_INFINITY);
      const binary = this.opts.binary ?? defaultClaudeBinary();
      const raw = claudeCodeArgv(binary, { maxTurns, model: this.opts.model, systemPrompt: input.systemPrompt, maxBudgetUsd: input.maxBudgetUsd }, rules);
      box = await openAgentSandbox(raw, permissions, { workdir, env: input.env, toolchain: await binaryDirs(binary) }, this.opts.sandbox);
    } catch (err) {
      if (err instanceof ProgramNotFoundError) return result({ outcome: 'failed', error: `could not start claude: ${err.message}` });
      return result({ outcome: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
    try {
      return await this.runIn(box, input, parser, transcript, result);
    } finally {
      await box.close();
    }
  }

  private async runIn(
    box: Sandbox,
    input: RunnerInput,
    parser: StreamJsonParser,
    transcript: string[],
    result: (r: Omit<RunnerResult, 'usage' | 'transcript'>) => RunnerResult,
  ): Promise<RunnerResult> {
    const argv = box.argv;
    const stderr = new TailBuffer();
    let reported = parser.usage;
    // stdout arrives only on later ticks, so `watch` below is defined before its first call.
    const proc = runProcess({
      argv,
      cwd: input.workdir,
      env: box.env,
      stdin: input.prompt,
      signal: input.signal,
      killGraceMs: this.opts.killGraceMs,
      onSpawn: this.opts.onSpawn,
      onStderr: (c) => stderr.push(c),
      onStdout: (chunk) => {
        for (const ev of parser.push(chunk)) transcript.push(ev.line);
        watch();
      },
    });
    /** Reports grown usage and stops the run once it passes the token budget. */
    const watch = (): void => {
      const now = parser.usage;
      if (!sameUsage(now, reported)) {
        reported = now;
        input.onUsage?.(now);
      }
      if (tokensUsed(now) > input.maxTokens) proc.stop('token_limit');
    };

    const res = await proc.done;
    for (const ev of parser.end()) transcript.push(ev.line);
    watch();

    if (res.spawnError) return result({ outcome: 'failed', error: `could not start claude: ${res.spawnError}` });
    if (res.stopped) return result({ outcome: res.stopped, error: stopMessage(res.stopped, input.maxTokens) });
    if (tokensUsed(parser.usage) > input.maxTokens) {
      return result({ outcome: 'token_limit', error: stopMessage('token_limit', input.maxTokens) });
    }
    const final = parser.result;
    // A spent dollar budget is a budget stop like the token limit: the work so far is kept.
    if (final?.data.subtype === 'error_max_budget_usd') {
      return result({ outcome: 'token_limit', error: `claude reached its budget of $${(input.maxBudgetUsd ?? 0).toFixed(6)}` });
    }
    if (final && !final.data.is_error && final.data.subtype === 'success' && res.exitCode === 0) {
      return result({ outcome: 'success', summary: final.data.result?.trim() || undefined });
    }
    const why = final
      ? [final.data.subtype, ...(final.data.errors ?? []), final.data.is_error ? (final.data.result ?? '') : '']
          .filter((s) => s !== '')
          .join(': ')
      : 'no result in the stream';
    const tail = stderr.toString().trim();
    return result({
      outcome: 'failed',
      error: `claude exited with ${res.exitCode ?? res.exitSignal}: ${why}${tail ? `\n${tail}` : ''}${refusedNote(box.refused)}`,
    });
  }
}
