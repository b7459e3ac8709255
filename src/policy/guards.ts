/**
 * Reward-hacking guards: what in an agent's change could move its own reward without making
 * the code better. The reward reads CI, coverage and lint; an agent that edits the workflow,
 * the coverage or lint configuration, deletes a test or marks one skipped, or silences a
 * linter in a comment can score well with worse code. Pure: the change comes in as plain
 * data (see workspace/changes.ts), the verdict goes out; the executor and the evaluator act.
 *
 * ```ts
 * const inspection = inspectChange(change, protectedPatterns(config.policy, 'acme/shop'));
 * const decision = decideGuards(inspection, config.policy.on_protected_change);
 * if (decision.kind === 'refuse') fail(decision.files);
 * ```
 */
import picomatch from 'picomatch';
import { parse as parseToml } from 'smol-toml';

/** The bot's defaults for `[policy] protected_paths`. Patterns without a slash match at any depth. */
export const defaultProtectedPaths: readonly string[] = [
  // CI configuration
  '.github/workflows/**',
  '.gitlab-ci.yml',
  '.gitlab/**',
  // coverage, lint and test configuration
  'codecov.yml',
  '.codecov.yml',
  '.eslintrc*',
  'eslint.config.*',
  'vitest.config.*',
  'jest.config.*',
  '.nycrc*',
  'pytest.ini',
  'setup.cfg',
  'tox.ini',
  'pyproject.toml',
  // the bot's own configuration
  '.claude/**',
  '.doom/**',
  'doom-rlvr.toml',
];

export type ProtectedChangeMode = 'refuse' | 'flag';

export interface FileChange {
  status: 'added' | 'modified' | 'deleted' | 'renamed' | 'copied' | 'type-changed';
  /** The path after the change (for a deletion: the deleted path). */
  path: string;
  /** Renames and copies: the path before. */
  from?: string;
}

export interface AddedLine {
  file: string;
  /** 1-based line in the new file. */
  line: number;
  text: string;
}

/** An agent's change as the guards need it. */
export interface ChangeSet {
  files: FileChange[];
  added: AddedLine[];
  /**
   * `pyproject.toml` files before and after (null: absent), so that only a change to their
   * `[tool.*]` sections counts as protected. A pyproject.toml missing here counts whole.
   */
  pyproject?: Record<string, { before: string | null; after: string | null }>;
}

export type GuardFinding =
  | { kind: 'protected_path'; file: string }
  | { kind: 'deleted_test'; file: string }
  | { kind: 'skip_marker'; file: string; line: number; marker: string };

/** A suppression comment added by the change: a lint finding of its own. */
export interface Suppression {
  file: string;
  line: number;
  marker: string;
}

export interface Inspection {
  /** Protected files the change touches (either side of a rename), sorted. */
  protectedFiles: string[];
  /** Protected paths, deleted tests and skip markers: each one makes the reward guarded. */
  findings: GuardFinding[];
  suppressions: Suppression[];
}

export type GuardDecision =
  | { kind: 'clean' }
  | { kind: 'refuse'; files: string[] }
  | { kind: 'flag'; findings: GuardFinding[] };

/** Files tests live in, by the conventions of the common runners (JS/TS, Python, Go, JVM, Ruby, Rust). */
const testFilePatterns = [
  '**/*.{test,spec}.*',
  '**/__tests__/**',
  '**/{test,tests,spec,__test__}/**',
  '**/test_*.py',
  '**/*_test.{py,go,rb,rs}',
  '**/*{Test,Tests,IT}.{java,kt,scala,cs}',
  '**/*_spec.rb',
];
const isTestFile = picomatch(testFilePatterns, { dot: true });

/** Markers that turn a test off (or, with `.only`, every other test). */
const skipMarkers: { marker: string; re: RegExp }[] = [
  { marker: '.skip(', re: /\b(?:it|test|describe|suite|context|bench)(?:\.\w+)*\.skip(?:If)?\s*[(`]/ },
  { marker: '.only(', re: /\b(?:it|test|describe|suite|context)(?:\.\w+)*\.only\s*[(`]/ },
  { marker: '.todo(', re: /\b(?:it|test|describe)\.todo\s*\(/ },
  { marker: 'xit(', re: /(?<![\w.$])x(?:it|describe|test|context)\s*\(/ },
  { marker: '@pytest.mark.skip', re: /@pytest\.mark\.(?:skip(?:if)?|xfail)\b/ },
  { marker: 'pytest.skip(', re: /\bpytest\.skip\s*\(/ },
  { marker: '@unittest.skip', re: /@unittest\.(?:skip(?:If|Unless)?|expectedFailure)\b/ },
  { marker: 'skipTest(', re: /\bself\.skipTest\s*\(/ },
  { marker: 't.Skip(', re: /\bt\.Skip(?:f|Now)?\s*\(/ },
  { marker: '@Disabled', re: /@(?:Disabled|Ignore)\b/ },
  { marker: '#[ignore]', re: /#\[ignore\b/ },
];

/** Comments that silence a linter, a type checker, a security scanner or the coverage count. */
const suppressionMarkers: { marker: string; re: RegExp }[] = [
  { marker: 'eslint-disable', re: /\beslint-disable\b/ },
  { marker: '@ts-ignore', re: /@ts-ignore\b/ },
  { marker: '@ts-expect-error', re: /@ts-expect-error\b/ },
  { marker: '@ts-nocheck', re: /@ts-nocheck\b/ },
  { marker: 'biome-ignore', re: /\bbiome-ignore\b/ },
  { marker: '# noqa', re: /#\s*noqa\b/i },
  { marker: '# type: ignore', re: /#\s*type:\s*ignore\b/ },
  { marker: 'pylint: disable', re: /#\s*pylint:\s*disable\b/ },
  { marker: 'nosec', re: /#\s*nosec\b|\/\/\s*#?nosec\b/i },
  { marker: 'NOLINT', re: /\bNOLINT(?:NEXTLINE|BEGIN)?\b/ },
  { marker: 'rubocop:disable', re: /\brubocop:disable\b/ },
  { marker: '@SuppressWarnings', re: /@SuppressWarnings\b/ },
  { marker: 'coverage ignore', re: /\b(?:istanbul|c8|v8)\s+ignore\b|pragma:\s*no\s*cover\b/ },
];

/** The configured patterns plus the repository's own additions. */
export function protectedPatterns(
  policy: { protected_paths: readonly string[]; repositories: Record<string, { protected_paths: readonly string[] }> },
  repo: string,
): string[] {
  return [...new Set([...policy.protected_paths, ...(policy.repositories[repo]?.protected_paths ?? [])])];
}

/**
 * A matcher for protected paths: gitignore-like (a pattern without a slash matches the file
 * name at any depth), dot files included, case-insensitive (a CI on a case-insensitive file
 * system reads `.GitHub/Workflows` too).
 */
export function protectedMatcher(patterns: readonly string[]): (path: string) => boolean {
  if (patterns.length === 0) return () => false;
  const anchored = patterns.map((p) => (p.includes('/') ? p.replace(/^\//, '') : `**/${p}`));
  return picomatch(anchored, { dot: true, nocase: true });
}

/** The `[tool]` table of a pyproject.toml, as comparable text; undefined when it does not parse. */
function toolSection(text: string | null): string | undefined {
  if (text === null) return 'null';
  try {
    const parsed = parseToml(text) as { tool?: unknown };
    return JSON.stringify(parsed.tool ?? null);
  } catch {
    return undefined;
  }
}

/** A pyproject.toml counts as protected when its `[tool.*]` sections changed, or when that cannot be told. */
function pyprojectToolChanged(file: string, change: ChangeSet): boolean {
  const both = change.pyproject?.[file];
  if (!both) return true;
  const before = toolSection(both.before);
  const after = toolSection(both.after);
  return before === undefined || after === undefined || before !== after;
}

const isPyproject = (path: string): boolean => /(?:^|\/)pyproject\.toml$/i.test(path);

function protectedFilesOf(change: ChangeSet, isProtected: (path: string) => boolean): string[] {
  const hit = new Set<string>();
  for (const f of change.files) {
    for (const path of [f.path, f.from]) {
      if (path === undefined || !isProtected(path)) continue;
      if (isPyproject(path) && !pyprojectToolChanged(path, change)) continue;
      hit.add(path);
    }
  }
  return [...hit].sort();
}

/** A test file that is gone: deleted, or renamed to a name no test runner picks up. */
function deletedTests(files: readonly FileChange[]): string[] {
  return files
    .filter((f) => (f.status === 'deleted' && isTestFile(f.path)) || (f.status === 'renamed' && f.from !== undefined && isTestFile(f.from) && !isTestFile(f.path)))
    .map((f) => (f.status === 'deleted' ? f.path : f.from!))
    .sort();
}

function firstMarker(text: string, markers: readonly { marker: string; re: RegExp }[]): string | null {
  return markers.find((m) => m.re.test(text))?.marker ?? null;
}

/** Everything the guards see in one change. */
export function inspectChange(change: ChangeSet, patterns: readonly string[]): Inspection {
  const protectedFiles = protectedFilesOf(change, protectedMatcher(patterns));
  const findings: GuardFinding[] = protectedFiles.map((file) => ({ kind: 'protected_path', file }));
  for (const file of deletedTests(change.files)) findings.push({ kind: 'deleted_test', file });
  const suppressions: Suppression[] = [];
  for (const a of change.added) {
    const skip = firstMarker(a.text, skipMarkers);
    if (skip) findings.push({ kind: 'skip_marker', file: a.file, line: a.line, marker: skip });
    const quiet = firstMarker(a.text, suppressionMarkers);
    if (quiet) suppressions.push({ file: a.file, line: a.line, marker: quiet });
  }
  return { protectedFiles, findings, suppressions };
}

/**
 * What to do about a change. Protected paths follow `on_protected_change`: refused (the
 * run fails, nothing is pushed) or flagged. Deleted tests and skip markers are always
 * flagged, never refused: a refactor may delete a test on purpose, and a reviewer should
 * decide, but the reward must not trust a test run that shrank.
 */
export function decideGuards(inspection: Inspection, mode: ProtectedChangeMode): GuardDecision {
  if (inspection.protectedFiles.length > 0 && mode === 'refuse') return { kind: 'refuse', files: inspection.protectedFiles };
  if (inspection.findings.length > 0) return { kind: 'flag', findings: inspection.findings };
  return { kind: 'clean' };
}

/** One line per finding, for a merge request or a log. */
export function describeFinding(f: GuardFinding): string {
  const file = `\`${f.file.replace(/`/g, "'")}\``;
  if (f.kind === 'protected_path') return `${file} is a protected path (CI, coverage, lint or test configuration, or the bot's own)`;
  if (f.kind === 'deleted_test') return `${file}: a test file was deleted`;
  return `${file} line ${f.line}: \`${f.marker}\` turns a test off`;
}
