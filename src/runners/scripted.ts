/**
 * A deterministic "agent" for tests and demos: applies a unified diff with `git apply`, or
 * runs an argv in the workdir (the prompt on its stdin). It reports a fixed small usage so
 * the pipeline has numbers to show, and honours the token budget against it, so a demo can
 * show `token_limit` too.
 */
import { defaultPermissions, type PermissionsConfig, type ScriptedRunnerConfig } from './config.js';
import { abortOutcome, runProcess, stopMessage, TailBuffer } from './process.js';
import { emptyUsage, tokensUsed, type Runner, type RunnerInput, type RunnerResult, type Usage } from './runner.js';
import { openAgentSandbox, type Sandbox, type SandboxContext } from './sandbox.js';

export const scriptedUsage = (): Usage => ({
  inputTokens: 1200,
  outputTokens: 300,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  costUsd: 0.0081,
  turns: 1,
});

export interface ScriptedRunnerOptions {
  permissions?: PermissionsConfig;
  killGraceMs?: number;
  sandbox?: SandboxContext;
}

export class ScriptedRunner implements Runner {
  readonly kind = 'scripted';

  constructor(
    private readonly config: ScriptedRunnerConfig,
    private readonly opts: ScriptedRunnerOptions = {},
  ) {}

  async run(input: RunnerInput): Promise<RunnerResult> {
    if (input.signal.aborted) return { outcome: abortOutcome(input.signal), usage: emptyUsage(), transcript: '' };
    const usage = scriptedUsage();
    const patch = this.config.patch;
    const action = patch !== undefined ? 'patch' : 'script';
    const argv =
      patch !== undefined ? ['git', 'apply', '--whitespace=nowarn', '-'] : (this.config.script ?? []);
    const lines = [JSON.stringify({ type: 'scripted', action, argv })];
    const output = new TailBuffer();
    const done = (r: Pick<RunnerResult, 'outcome' | 'error'>): RunnerResult => {
      const text = output.toString();
      if (text !== '') lines.push(JSON.stringify({ type: 'output', text }));
      lines.push(JSON.stringify({ type: 'result', outcome: r.outcome }));
      return { ...r, usage, transcript: lines.join('\n') };
    };

    const permissions = this.opts.permissions ?? defaultPermissions();
    // A patch is the agent file's own text applied by `git apply`, which needs the worktree's
    // git directory (in the mirror, hidden by the sandbox): it runs as the bot. A script is
    // code, and runs sandboxed like any agent.
    const confined = patch !== undefined ? { ...permissions, sandbox: 'none' as const } : permissions;
    let box: Sandbox;
    try {
      box = await openAgentSandbox(argv, confined, { workdir: input.workdir, env: input.env }, this.opts.sandbox);
    } catch (err) {
      return done({ outcome: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
    const res = await runProcess({
      argv: box.argv,
      cwd: input.workdir,
      env: box.env,
      stdin: patch ?? input.prompt,
      signal: input.signal,
      killGraceMs: this.opts.killGraceMs,
      onStdout: (c) => output.push(c),
      onStderr: (c) => output.push(c),
    }).done.finally(() => box.close());
    input.onUsage?.(usage);

    if (res.spawnError) return done({ outcome: 'failed', error: `could not start ${argv[0]}: ${res.spawnError}` });
    if (res.stopped) return done({ outcome: res.stopped, error: stopMessage(res.stopped, input.maxTokens) });
    if (res.exitCode !== 0) {
      return done({
        outcome: 'failed',
        error: `${action === 'patch' ? 'git apply' : argv[0]} exited with ${res.exitCode ?? res.exitSignal}: ${output.toString().trim()}`,
      });
    }
    if (tokensUsed(usage) > input.maxTokens) {
      return done({ outcome: 'token_limit', error: stopMessage('token_limit', input.maxTokens) });
    }
    return done({ outcome: 'success' });
  }
}
