/**
 * The repository's own commands, as the bot runs them on a candidate: the test command from
 * `[repositories."<path>".commands]` when the config names one, else one detected from the
 * checkout (`package.json`'s test script, `pyproject.toml`, `go.mod`, `Cargo.toml`). The bot
 * runs them itself, in a checkout it made, and reads only their exit codes and output: an
 * agent's word for a test result is never taken.
 *
 * The code they run is an agent's, so they run in the agent sandbox (bubblewrap: the bot's
 * home, store, mirrors and config out of sight, the network only through the egress proxy),
 * with an environment of the toolchain's variables only; `[pipeline] checks_sandbox = "none"`
 * runs them as the bot's user instead, the way a CI runner would.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config, LocalCommand } from '../config/schema.js';
import { openSandbox, type Sandbox, type SandboxBinaries } from '../runners/sandbox.js';

export interface RepoCommand {
  argv: string[];
  timeoutMs: number;
  /** Where it came from, for the merge request: `config` or the detected file. */
  source: string;
  /** Report file relative to the checkout (coverage), when the config names one. */
  report?: string;
}

const fromConfig = (c: LocalCommand): RepoCommand => ({ argv: [...c.run], timeoutMs: c.timeout_ms, source: 'config', ...(c.report ? { report: c.report } : {}) });

const DETECTED_TIMEOUT_MS = 600_000;

/** npm's placeholder for a package with no tests. */
const noTestScript = /no test specified/;

/** Pure: a test command from the files a checkout has (their text, or null when absent). */
export function detectTestCommand(files: { packageJson: string | null; pyproject: string | null; goMod: string | null; cargo: string | null }): RepoCommand | null {
  if (files.packageJson !== null) {
    try {
      const pkg = JSON.parse(files.packageJson) as { scripts?: Record<string, unknown> };
      const script = pkg.scripts?.test;
      if (typeof script === 'string' && !noTestScript.test(script)) return { argv: ['npm', 'test', '--silent', '--'], timeoutMs: DETECTED_TIMEOUT_MS, source: 'package.json' };
    } catch {
      // not JSON: look further
    }
  }
  if (files.pyproject !== null) return { argv: ['python3', '-m', 'pytest', '-q'], timeoutMs: DETECTED_TIMEOUT_MS, source: 'pyproject.toml' };
  if (files.goMod !== null) return { argv: ['go', 'test', './...'], timeoutMs: DETECTED_TIMEOUT_MS, source: 'go.mod' };
  if (files.cargo !== null) return { argv: ['cargo', 'test'], timeoutMs: DETECTED_TIMEOUT_MS, source: 'Cargo.toml' };
  return null;
}

export interface RepoCommands {
  test: RepoCommand | null;
  lint: RepoCommand | null;
  coverage: RepoCommand | null;
}

/** The commands for `repo` (the config's key: an absolute path or `owner/name`), detecting the test command in `checkout`. */
export async function repoCommands(config: Config, repo: string, checkout: string): Promise<RepoCommands> {
  const configured = config.repositories[repo]?.commands;
  const read = (file: string) => readFile(join(checkout, file), 'utf8').catch(() => null);
  const test = configured
    ? fromConfig(configured.test)
    : detectTestCommand({ packageJson: await read('package.json'), pyproject: await read('pyproject.toml'), goMod: await read('go.mod'), cargo: await read('Cargo.toml') });
  return {
    test,
    lint: configured?.lint ? fromConfig(configured.lint) : null,
    coverage: configured?.coverage ? fromConfig(configured.coverage) : null,
  };
}

export interface CommandRun {
  /** Null when the command could not start or was killed (its timeout). */
  exitCode: number | null;
  /** The last few kB of stdout and stderr. */
  output: string;
}

const TAIL = 6_000;

function commandEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM', 'SystemRoot'];
  const env: NodeJS.ProcessEnv = { CI: '1', NO_COLOR: '1' };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/** Where a check runs: in the sandbox (with the bot's places masked), or as the bot's user. */
export interface Confinement {
  sandbox: 'bwrap' | 'none';
  /** The bot's own places (mirror, store, config): masked inside the sandbox. */
  hidden: string[];
  binaries?: SandboxBinaries;
}

/** Runs `argv` (no shell) in `cwd`, confined when asked; never rejects (a sandbox that cannot start is a failed run). */
export async function runCommand(argv: readonly string[], cwd: string, timeoutMs: number, signal?: AbortSignal, confinement?: Confinement): Promise<CommandRun> {
  const env = commandEnv() as Record<string, string>;
  let box: Sandbox;
  try {
    box = await openSandbox([...argv], { sandbox: confinement?.sandbox ?? 'none', forbiddenPaths: [], workdir: cwd, env, hidden: confinement?.hidden ?? [], ...(confinement?.binaries ? { binaries: confinement.binaries } : {}) });
  } catch (error) {
    return { exitCode: null, output: `${argv.join(' ')} could not run in the sandbox: ${error instanceof Error ? error.message : String(error)}` };
  }
  try {
    return await execute(box.argv, box.env, cwd, timeoutMs, signal, argv);
  } finally {
    await box.close();
  }
}

function execute(argv: readonly string[], env: Record<string, string>, cwd: string, timeoutMs: number, signal: AbortSignal | undefined, shown: readonly string[]): Promise<CommandRun> {
  return new Promise((resolve) => {
    const [file, ...args] = argv as [string, ...string[]];
    execFile(
      file,
      args,
      { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', windowsHide: true, ...(signal ? { signal } : {}) },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.slice(-TAIL);
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ exitCode: code, output: code === null ? `${output}\n${shown.join(' ')} could not run: ${error?.message ?? 'killed'}` : output });
      },
    );
  });
}

/** The test command narrowed to the oracle's files (appended: npm's `--`, pytest, node --test and most runners take paths). */
export const oracleArgv = (test: RepoCommand, files: readonly string[]): string[] => [...test.argv, ...files];
