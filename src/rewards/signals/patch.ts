/**
 * Patch coverage, as Codecov computes it: of the lines a merge request adds or modifies, the
 * share that its head's tests execute, among those the coverage report instruments, compared
 * with the project's coverage. It judges what the agent wrote, which the project-wide change
 * cannot: a well-tested 20-line fix in a 10,000-line project moves project coverage by a
 * hundredth of a point.
 *
 * The changed lines come from git, in the bot's mirror of the repository: the evaluator
 * already reads the change there (sources.ts, through `readChangeSet`, the same reading the
 * guards make), so patch coverage costs no extra forge call, counts exactly the lines the
 * guards saw, and works the same for GitHub, GitLab and the local forge. The forges' MR diff
 * APIs truncate large diffs and differ per forge; the mirror does neither.
 *
 * Pure: a parsed report and the changed lines in, counts out.
 *
 * ```ts
 * const patch = patchCoverage(parseCoverage(lcov), change.added); // null: no per-line data
 * const score = patch ? patchCoverageScore(patch, projectPercent) : coverageDelta(head, base);
 * ```
 */
import type { CoverageSummary } from './coverage.js';
import { isAbsolutePath, toPosixPath } from './paths.js';

/** A line of the head the change added or modified: repo-relative path, 1-based line. */
export interface ChangedLine {
  file: string;
  line: number;
}

export interface PatchCoverage {
  /** Changed lines the report instruments (executable lines). */
  coverable: number;
  /** Of those, the lines executed at least once. */
  covered: number;
}

/**
 * Counts the changed lines the report instruments and those it saw executed. A report path
 * matches a changed file when it is that path, or when it is absolute (CI wrote it from its
 * own checkout, `/builds/group/project/src/a.ts`) and ends with `/` + the path; the shortest
 * such path wins, so a nested copy of the same tree does not. Changed lines in files the
 * report does not list (tests, docs, files no test loads) are not coverable, as in Codecov.
 * Null when the report has no per-line data at all (totals only): nothing to count with.
 */
export function patchCoverage(report: Pick<CoverageSummary, 'lines'>, changed: readonly ChangedLine[]): PatchCoverage | null {
  if (report.lines.size === 0) return null;
  const find = matcher(report.lines);
  const byFile = new Map<string, ReadonlyMap<number, number> | null>();
  let coverable = 0;
  let covered = 0;
  for (const { file, line } of changed) {
    if (!byFile.has(file)) byFile.set(file, find(toPosixPath(file)));
    const hits = byFile.get(file)?.get(line);
    if (hits === undefined) continue;
    coverable++;
    if (hits > 0) covered++;
  }
  return { coverable, covered };
}

/** Finds a changed file's line data: its exact path, else the shortest absolute path ending in it. */
function matcher(lines: CoverageSummary['lines']): (file: string) => ReadonlyMap<number, number> | null {
  // Outside paths by base name, so a lookup reads only the few that could end with the file.
  let outside: Map<string, string[]> | null = null;
  const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  return (file) => {
    const exact = lines.get(file);
    if (exact) return exact;
    if (!outside) {
      outside = new Map();
      for (const path of lines.keys()) {
        if (!isAbsolutePath(path) && !path.startsWith('../')) continue;
        const name = baseName(path);
        const same = outside.get(name);
        if (same) same.push(path);
        else outside.set(name, [path]);
      }
    }
    let best: string | null = null;
    for (const path of outside.get(baseName(file)) ?? []) {
      if (path.endsWith(`/${file}`) && (best === null || path.length < best.length)) best = path;
    }
    return best === null ? null : lines.get(best)!;
  };
}

/** Patch coverage in percent; null when no changed line is coverable. */
export function patchPercent(patch: PatchCoverage): number | null {
  return patch.coverable === 0 ? null : (patch.covered / patch.coverable) * 100;
}

/**
 * `test_coverage_delta` from patch coverage, against the project's coverage P (the target
 * branch's, as Codecov's `auto` target): piecewise linear through 0% → −1, P → 0, 100% → +1.
 * So a change tested as well as the project is neutral, a fully tested one +1 and an untested
 * one −1, whatever P is: with P = 80, 90% scores +0.5 and 60% −0.25. With no coverable line
 * there is no patch coverage, and the score is 0 (the evaluator uses the project-coverage
 * change for such a change instead: a tests-only MR still earns what it adds).
 */
export function patchCoverageScore(patch: PatchCoverage, projectPercent: number): number {
  if (!Number.isFinite(projectPercent) || projectPercent < 0 || projectPercent > 100) {
    throw new RangeError(`projectPercent must be a percentage in 0..100, got ${projectPercent}`);
  }
  if (!Number.isInteger(patch.coverable) || !Number.isInteger(patch.covered) || patch.covered < 0 || patch.covered > patch.coverable) {
    throw new RangeError(`patch coverage must be 0 <= covered <= coverable, got ${patch.covered} of ${patch.coverable}`);
  }
  const percent = patchPercent(patch);
  if (percent === null) return 0;
  const p = projectPercent;
  const score = percent >= p ? (p === 100 ? 1 : (percent - p) / (100 - p)) : (percent - p) / p;
  return Math.round(score * 10_000) / 10_000 + 0;
}
