/**
 * Any other CLI agent (Codex, Aider, Gemini CLI, OpenCode) from an argv template: no shell,
 * the prompt on stdin or in a file, stdout and stderr kept as the transcript, exit 0 is
 * success. Usage is zero unless the agent (or a wrapper script) writes it as JSON to
 * `{usage_file}`: `{"input_tokens", "output_tokens", "cache_read_tokens",
 * "cache_creation_tokens", "cost_usd", "turns"}`, any of them optional.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defaultPermissions, type ArgvPlaceholder, type CommandRunnerConfig, type PermissionsConfig } from './config.js';
import { abortOutcome, runProcess, stopMessage, TailBuffer } from './process.js';
import { emptyUsage, tokensUsed, type Runner, type RunnerInput, type RunnerResult, type Usage } from './runner.js';
import { openAgentSandbox, refusedNote, type Sandbox, type SandboxContext } from './sandbox.js';

export interface CommandRunnerOptions {
  permissions?: PermissionsConfig;
  killGraceMs?: number;
  onSpawn?: (pid: number) => void;
  sandbox?: SandboxContext;
}

/** Pure: the argv template with every `{placeholder}` replaced. */
export const fillArgv = (template: string[], values: Record<ArgvPlaceholder, string>): string[] =>
  template.map((arg) =>
    arg.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
      Object.hasOwn(values, name) ? values[name as ArgvPlaceholder] : whole,
    ),
  );

const n = z.number().nonnegative().catch(0).default(0);
const reportedUsage = z.looseObject({
  input_tokens: n,
  output_tokens: n,
  cache_read_tokens: n,
  cache_creation_tokens: n,
  cost_usd: n,
  turns: n,
});

/** Reads what the agent wrote to `{usage_file}`; zero usage when it wrote nothing usable. */
export const readReportedUsage = async (file: string): Promise<Usage> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return emptyUsage();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return emptyUsage();
  }
  const r = reportedUsage.safeParse(json);
  if (!r.success) return emptyUsage();
  return {
    inputTokens: r.data.input_tokens,
    outputTokens: r.data.output_tokens,
    cacheReadTokens: r.data.cache_read_tokens,
    cacheCreationTokens: r.data.cache_creation_tokens,
    costUsd: r.data.cost_usd,
    turns: r.data.turns,
  };
};

export class CommandRunner implements Runner {
  readonly kind = 'command';

  constructor(
    private readonly config: CommandRunnerConfig,
    private readonly opts: CommandRunnerOptions = {},
  ) {}

  async run(input: RunnerInput): Promise<RunnerResult> {
    if (input.signal.aborted) return { outcome: abortOutcome(input.signal), usage: emptyUsage(), transcript: '' };
    const permissions = this.opts.permissions ?? defaultPermissions();
    // Outside the worktree, so the prompt never ends up in the agent's commit.
    const scratch = await mkdtemp(join(tmpdir(), 'doom-agent-'));
    const transcript: string[] = [];
    let box: Sandbox | undefined;
    try {
      const files = {
        prompt_file: join(scratch, 'prompt.md'),
        system_prompt_file: join(scratch, 'system-prompt.md'),
        usage_file: join(scratch, 'usage.json'),
        workdir: input.workdir,
      };
      await writeFile(files.prompt_file, input.prompt);
      await writeFile(files.system_prompt_file, input.systemPrompt);

      try {
        box = await openAgentSandbox(
          fillArgv(this.config.argv, files),
          permissions,
          { workdir: input.workdir, env: input.env, writable: [scratch] },
          this.opts.sandbox,
        );
      } catch (err) {
        return { outcome: 'failed', usage: emptyUsage(), transcript: '', error: err instanceof Error ? err.message : String(err) };
      }
      const argv = box.argv;

      const stderr = new TailBuffer();
      const proc = runProcess({
        argv,
        cwd: input.workdir,
        env: box.env,
        stdin: this.config.prompt_via === 'stdin' ? input.prompt : undefined,
        signal: input.signal,
        killGraceMs: this.opts.killGraceMs,
        onSpawn: this.opts.onSpawn,
        onStdout: (c) => transcript.push(c),
        onStderr: (c) => {
          transcript.push(c);
          stderr.push(c);
        },
      });
      const res = await proc.done;
      const usage = await readReportedUsage(files.usage_file);
      if (tokensUsed(usage) > 0) input.onUsage?.(usage);
      const done = (r: Pick<RunnerResult, 'outcome' | 'error'>): RunnerResult => ({
        ...r,
        usage,
        transcript: transcript.join(''),
      });

      if (res.spawnError) return done({ outcome: 'failed', error: `could not start ${argv[0]}: ${res.spawnError}` });
      if (res.stopped) return done({ outcome: res.stopped, error: stopMessage(res.stopped, input.maxTokens) });
      if (tokensUsed(usage) > input.maxTokens) {
        return done({ outcome: 'token_limit', error: stopMessage('token_limit', input.maxTokens) });
      }
      // The agent cannot be stopped at a dollar amount it reports only at its end: checked after the fact.
      if (input.maxBudgetUsd !== undefined && usage.costUsd > input.maxBudgetUsd + 1e-9) {
        return done({ outcome: 'token_limit', error: `the agent spent $${usage.costUsd.toFixed(4)}, over its budget of $${input.maxBudgetUsd.toFixed(4)}` });
      }
      if (res.exitCode === 0) return done({ outcome: 'success' });
      const tail = stderr.toString().trim();
      return done({
        outcome: 'failed',
        error: `${this.config.argv[0]} exited with ${res.exitCode ?? res.exitSignal}${tail ? `\n${tail}` : ''}${refusedNote(box.refused)}`,
      });
    } finally {
      await box?.close();
      await rm(scratch, { recursive: true, force: true });
    }
  }
}
