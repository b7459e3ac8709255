/**
 * The `local` forge's CI: the repository's own test, coverage, lint and security commands
 * (`[repositories."<path>".commands]`), run on a commit in a throw-away clone, never in the
 * person's checkout. Each report is kept where the evaluator's report locations look
 * (`<artifact>/<path>` of `[evaluator.reports]`), so the same signal parsers read it.
 *
 * The commands run as the person who runs `doom`, outside the agent sandbox, as CI runs a
 * merge request's code: they are the repository's commands, but the code they test is the
 * agent's.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Config, LocalCommand, LocalCommands, ReportsConfig } from '../../config/schema.js';
import { recordLocalPipeline } from '../../store/local.js';
import type { Database, LocalPipelineRow, LocalPipelineStatus } from '../../store/schema.js';
import { git } from '../../workspace/git.js';
import { ExpectedError } from '../../errors.js';

export type StepName = keyof LocalCommands;

export interface StepResult {
  name: StepName;
  /** Null when the command could not start or was killed. */
  exitCode: number | null;
  /** The last few kB of its output. */
  output: string;
  report: string | null;
  error?: string;
}

/** Pure: the pipeline passes when the test command ran and exited 0. */
export function pipelineStatus(steps: readonly StepResult[]): LocalPipelineStatus {
  return steps.some((s) => s.name === 'test' && s.exitCode === 0) ? 'success' : 'failed';
}

/** Pure: where each report goes so that `forge.report(…, locations)` finds it. */
export function reportEntries(steps: readonly StepResult[], locations: ReportsConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const step of steps) {
    if (step.report === null || step.name === 'test') continue;
    for (const l of locations[step.name]) out[`${l.artifact}/${l.path}`] = step.report;
  }
  return out;
}

/** Pure: `node --test`, TAP and most runners end with pass/fail counts; null when none is printed. */
export function testCounts(output: string): { pass: number; fail: number } | null {
  const pass = /^(?:#|ℹ)\s*pass\s+(\d+)/m.exec(output);
  const fail = /^(?:#|ℹ)\s*fail\s+(\d+)/m.exec(output);
  return pass && fail ? { pass: Number(pass[1]), fail: Number(fail[1]) } : null;
}

/** The commands' environment: what a toolchain needs, none of the bot's secrets. */
function commandEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM', 'SystemRoot'];
  const env: NodeJS.ProcessEnv = { CI: '1', NO_COLOR: '1' };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

const TAIL = 8_000;

function runStep(name: StepName, command: LocalCommand, cwd: string): Promise<StepResult> {
  return new Promise((resolve) => {
    const [file, ...args] = command.run as [string, ...string[]];
    execFile(
      file,
      args,
      { cwd, env: commandEnv(), timeout: command.timeout_ms, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', windowsHide: true },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.slice(-TAIL);
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        const base = { name, exitCode: code, output };
        const finish = (report: string | null, why?: string) => resolve({ ...base, report, ...(why ? { error: why } : {}) });
        if (code === null) return finish(null, `${command.run.join(' ')} could not run: ${error?.message ?? 'killed'}`);
        if (!command.report) return finish(stdout === '' ? null : stdout);
        readFile(join(cwd, command.report), 'utf8').then(
          (text) => finish(text),
          () => finish(null, `${command.report} was not written`),
        );
      },
    );
  });
}

export interface LocalPipelineRequest {
  db: Kysely<Database>;
  config: Config;
  /** The repository's absolute path. */
  repo: string;
  ref: string;
  sha: string;
}

export class LocalPipelineError extends ExpectedError {}

/** Runs the repository's commands on `sha` and records the pipeline; throws when none are configured. */
export async function runLocalPipeline(request: LocalPipelineRequest): Promise<{ pipeline: LocalPipelineRow; steps: StepResult[] }> {
  const { db, config, repo, ref, sha } = request;
  const commands = config.repositories[repo]?.commands;
  if (!commands) throw new LocalPipelineError(`no [repositories."${repo}".commands] in the config: the local pipeline has nothing to run`);
  const dir = await mkdtemp(join(tmpdir(), 'doom-pipeline-'));
  try {
    await git(['clone', '--quiet', '--no-checkout', repo, dir]);
    await git(['checkout', '--quiet', '--detach', sha], { cwd: dir });
    const steps: StepResult[] = [];
    for (const name of ['test', 'coverage', 'lint', 'security'] as const) {
      const command = commands[name];
      if (command) steps.push(await runStep(name, command, dir));
    }
    const locations = config.evaluator.repositories[repo]?.reports ?? config.evaluator.reports;
    const pipeline = await recordLocalPipeline(db, {
      repo,
      ref,
      sha,
      status: pipelineStatus(steps),
      reports: reportEntries(steps, locations),
      steps: steps.map((s) => ({ name: s.name, exit_code: s.exitCode, output: s.output, error: s.error ?? null })),
    });
    return { pipeline, steps };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
