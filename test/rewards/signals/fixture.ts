/**
 * Throw-away fixture projects for the signal tests: real tools (vitest + v8 coverage, ESLint)
 * run on them, so the parsers are tested on reports those tools actually write.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ESLint, type Linter } from 'eslint';

const run = promisify(execFile);
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Fixture {
  dir: string;
  cleanup(): Promise<void>;
}

/** A temp dir holding `files`, with this repo's node_modules linked in so tools resolve. */
export async function makeFixture(files: Readonly<Record<string, string>>): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'doom-signals-'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Runs vitest with v8 coverage in `dir` as its own root and config (so this repo's
 * vitest.config.ts is never picked up), writing coverage/lcov.info and
 * coverage/cobertura-coverage.xml.
 */
export async function runVitestCoverage(dir: string): Promise<void> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The parent vitest's worker variables would confuse the child run.
    if (!k.startsWith('VITEST') && k !== 'NODE_V8_COVERAGE' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  await run(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--root',
      dir,
      '--config',
      join(dir, 'vitest.config.mjs'),
      '--coverage.enabled',
      '--coverage.provider=v8',
      '--coverage.reporter=lcov',
      '--coverage.reporter=cobertura',
    ],
    { cwd: dir, env, timeout: 60_000 },
  );
}

/** A config with no imports: nothing from this repo leaks into the child run. */
export const CHILD_VITEST_CONFIG = `export default {
  test: { include: ['test/**/*.test.*'], pool: 'threads', coverage: { include: ['src/**'], reportsDirectory: 'coverage' } },
};
`;

export interface EslintReports {
  /** What `eslint -f json` prints. */
  json: string;
  /** What `eslint -f @microsoft/eslint-formatter-sarif` prints. */
  sarif: string;
}

/**
 * Lints `patterns` under `dir` with ESLint's API and only the given flat config (no config
 * file lookup), formatted by the same formatters the CLI would load.
 */
export async function runEslint(dir: string, config: Linter.Config[], patterns: string[] = ['src']): Promise<EslintReports> {
  const eslint = new ESLint({ cwd: dir, overrideConfigFile: true, overrideConfig: config });
  const results = await eslint.lintFiles(patterns);
  const [jsonFormatter, sarifFormatter] = await Promise.all([
    eslint.loadFormatter('json'),
    eslint.loadFormatter('@microsoft/eslint-formatter-sarif'),
  ]);
  // The loaded formatters get cwd and rulesMeta from ESLint itself, as on the command line.
  return { json: await jsonFormatter.format(results), sarif: await sarifFormatter.format(results) };
}
