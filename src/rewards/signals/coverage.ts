/**
 * `test_coverage_delta`: line coverage from the MR head's coverage report (LCOV or Cobertura),
 * per file and per line. The per-line data gives patch coverage (patch.ts); the project
 * percentages of head and target branch give the fallback, `coverageDelta`, used when a
 * pipeline has only a figure (GitLab's `coverage`) and no report. Only line coverage is used:
 * every tool emits it, and branch coverage is missing from many LCOV producers.
 */
import { posix } from 'node:path';
import { isAbsolutePath, relativeToRoot, toPosixPath } from './paths.js';
import { ReportError } from './report.js';
import { readXml, XmlSyntaxError } from './xml.js';

export interface FileCoverage {
  /** Instrumented (executable) lines. */
  found: number;
  /** Instrumented lines executed at least once. */
  hit: number;
}

export interface CoverageSummary {
  linesFound: number;
  linesHit: number;
  /** 0..100. A report with no instrumented lines is 100, as Istanbul reports it. */
  percent: number;
  /** Repo-relative POSIX path → counts. */
  files: Map<string, FileCoverage>;
  /**
   * Path → line number → hits, for the files the report has per-line records of (LCOV `DA:`,
   * Cobertura `<line>`): what patch coverage reads. A file known only by its totals is absent.
   */
  lines: Map<string, ReadonlyMap<number, number>>;
}

export interface CoverageParseOptions {
  /** Checkout the tool ran in; absolute report paths under it become repo-relative. */
  root?: string;
}

export type CoverageFormat = 'lcov' | 'cobertura';

/** Which coverage format a report is, from its first lines; null when neither. */
export function detectCoverageFormat(text: string): CoverageFormat | null {
  const head = text.replace(/^\uFEFF/, '').slice(0, 4096);
  if (/^\s*</.test(head)) return /<coverage[\s>/]/.test(head) ? 'cobertura' : null;
  return /^(?:TN|SF):/m.test(head) ? 'lcov' : null;
}

/** Detects the format and parses; throws {@link ReportError} when it is neither. */
export function parseCoverage(text: string, options: CoverageParseOptions = {}): CoverageSummary {
  const format = detectCoverageFormat(text);
  if (format === 'lcov') return parseLcov(text, options);
  if (format === 'cobertura') return parseCobertura(text, options);
  if (text.trim() === '') return summarize(new Map(), new Map());
  throw new ReportError('Coverage', 'neither LCOV (no TN:/SF: record) nor Cobertura XML (no <coverage> root)');
}

/**
 * LCOV tracefile (`lcov.info`). Per-line `DA:` records are authoritative; `LF:`/`LH:` are used
 * only for a record without `DA:` lines. A file appearing in several records (merged runs) has
 * its line hits summed. An empty document is an empty summary.
 */
export function parseLcov(text: string, options: CoverageParseOptions = {}): CoverageSummary {
  const lines = new Map<string, Map<number, number>>();
  const totalsOnly = new Map<string, FileCoverage>();
  let file: string | null = null;
  let lf: number | null = null;
  let lh: number | null = null;
  let sawDa = false;
  const src = text.replace(/^\uFEFF/, '').split(/\r?\n/);

  const endRecord = (): void => {
    if (file !== null && !sawDa && lf !== null) {
      const prev = totalsOnly.get(file) ?? { found: 0, hit: 0 };
      totalsOnly.set(file, { found: prev.found + lf, hit: prev.hit + Math.min(lh ?? 0, lf) });
    }
    file = null;
    lf = lh = null;
    sawDa = false;
  };

  src.forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `line ${idx + 1}`;
    if (line === 'end_of_record') return endRecord();
    const colon = line.indexOf(':');
    const key = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1);
    if (key === 'SF') {
      if (file !== null) endRecord();
      if (value.trim() === '') throw new ReportError('LCOV', `${where}: SF: without a path`);
      file = relativeToRoot(value, options.root);
      if (!lines.has(file)) lines.set(file, new Map());
      return;
    }
    if (!/^[A-Z]+$/.test(key) || colon === -1) {
      throw new ReportError('LCOV', `${where}: not an LCOV record "${line.slice(0, 40)}"`);
    }
    if (key !== 'DA' && key !== 'LF' && key !== 'LH') return; // TN, FN*, BR*, VER, ...
    if (file === null) throw new ReportError('LCOV', `${where}: ${key}: outside an SF: record`);
    if (key === 'DA') {
      const [ln, hits] = value.split(',');
      const n = toCount(ln);
      const h = toCount(hits);
      if (n === null || h === null) throw new ReportError('LCOV', `${where}: malformed DA: record "${line}"`);
      const perFile = lines.get(file) ?? new Map<number, number>();
      perFile.set(n, (perFile.get(n) ?? 0) + h);
      lines.set(file, perFile);
      sawDa = true;
      return;
    }
    if (key === 'LF' || key === 'LH') {
      const n = toCount(value);
      if (n === null) throw new ReportError('LCOV', `${where}: malformed ${key}: record "${line}"`);
      if (key === 'LF') lf = n;
      else lh = n;
    }
  });
  endRecord();

  const files = new Map<string, FileCoverage>();
  const withLines = new Map<string, ReadonlyMap<number, number>>();
  for (const [path, perLine] of lines) {
    const fromLines = countLines(perLine);
    const totals = totalsOnly.get(path);
    files.set(path, totals && perLine.size === 0 ? totals : fromLines);
    if (perLine.size > 0) withLines.set(path, perLine);
  }
  return summarize(files, withLines);
}

/**
 * Cobertura XML (`coverage.xml`, `cobertura-coverage.xml`). Counts the `<line>` elements of each
 * `<class>` (not the duplicates under `<methods>`); classes sharing a file are merged by line
 * number. Relative filenames are resolved against the first `<source>` (always when it is
 * relative, only with `root` when it is absolute), then made relative to `root`. Without `root`
 * an absolute source is ignored, which is right for Istanbul/Vitest and coverage.py run from the
 * repo root (source = the root) but not for a source below it: pass `root` then. When there are no
 * `<class>` elements the root's `lines-valid`/`lines-covered` attributes are used.
 */
export function parseCobertura(xml: string, options: CoverageParseOptions = {}): CoverageSummary {
  if (xml.trim() === '') throw new ReportError('Cobertura', 'the document is empty (expected XML)');
  const perFile = new Map<string, Map<number, number>>();
  const sources: string[] = [];
  const stack: string[] = [];
  let rootTotals: FileCoverage | null = null;
  let currentFile: string | null = null;
  let sourceText: string | null = null;
  try {
    for (const ev of readXml(xml)) {
      if (ev.kind === 'text') {
        if (sourceText !== null) sourceText += ev.text;
        continue;
      }
      if (ev.kind === 'close') {
        stack.pop();
        if (ev.name === 'source' && sourceText !== null) {
          if (sourceText.trim() !== '') sources.push(sourceText.trim());
          sourceText = null;
        }
        if (ev.name === 'class') currentFile = null;
        continue;
      }
      const parent = stack[stack.length - 1];
      if (stack.length === 0) {
        if (ev.name !== 'coverage') {
          throw new ReportError('Cobertura', `root element is <${ev.name}>, expected <coverage>`);
        }
        const valid = toCount(ev.attrs.get('lines-valid'));
        const covered = toCount(ev.attrs.get('lines-covered'));
        if (valid !== null && covered !== null) rootTotals = { found: valid, hit: Math.min(covered, valid) };
      } else if (ev.name === 'source' && parent === 'sources') {
        sourceText = '';
      } else if (ev.name === 'class') {
        const filename = ev.attrs.get('filename');
        if (filename === undefined || filename.trim() === '') {
          throw new ReportError('Cobertura', `<class> without a filename attribute at offset ${ev.offset}`);
        }
        currentFile = filename;
        if (!perFile.has(filename)) perFile.set(filename, new Map());
      } else if (ev.name === 'line' && parent === 'lines' && stack[stack.length - 2] === 'class') {
        const n = toCount(ev.attrs.get('number'));
        const hits = toCount(ev.attrs.get('hits'));
        if (n === null || hits === null || currentFile === null) {
          throw new ReportError('Cobertura', `<line> needs numeric number and hits attributes at offset ${ev.offset}`);
        }
        const lines = perFile.get(currentFile) ?? new Map<number, number>();
        lines.set(n, Math.max(lines.get(n) ?? 0, hits));
        perFile.set(currentFile, lines);
      }
      stack.push(ev.name);
    }
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw new ReportError('Cobertura', `malformed XML: ${err.message}`);
    throw err;
  }

  if (perFile.size === 0 && rootTotals) return summarize(new Map(), new Map(), rootTotals);
  const files = new Map<string, FileCoverage>();
  const withLines = new Map<string, Map<number, number>>();
  for (const [filename, lines] of perFile) {
    const path = resolveCoberturaPath(filename, sources[0], options.root);
    const prev = files.get(path);
    const counts = countLines(lines);
    files.set(path, prev ? { found: prev.found + counts.found, hit: prev.hit + counts.hit } : counts);
    if (lines.size === 0) continue;
    const merged = withLines.get(path) ?? new Map<number, number>();
    for (const [n, hits] of lines) merged.set(n, Math.max(merged.get(n) ?? 0, hits));
    withLines.set(path, merged);
  }
  return summarize(files, withLines);
}

function resolveCoberturaPath(filename: string, source: string | undefined, root: string | undefined): string {
  const file = toPosixPath(filename);
  const base = source === undefined ? '' : toPosixPath(source);
  // An absolute <source> only helps when we know the root it should be relative to.
  if (isAbsolutePath(file) || base === '' || (isAbsolutePath(base) && !root)) return relativeToRoot(file, root);
  return relativeToRoot(posix.join(base, file), root);
}

/**
 * Maps the change in coverage percentage points to [-1, 1]: `(head - base) / fullScaleDelta`,
 * clamped. With the default `fullScaleDelta` of 10, a 10-point gain (or more) is +1, a 2.5-point
 * loss is -0.25, and no change is 0. Linear so small, honest gains still count; clamped because
 * coverage swings of tens of points say more about the test setup than about the agent.
 */
export function coverageDelta(
  headPercent: number,
  basePercent: number,
  options: { fullScaleDelta?: number } = {},
): number {
  const full = options.fullScaleDelta ?? 10;
  for (const [name, v] of [
    ['headPercent', headPercent],
    ['basePercent', basePercent],
  ] as const) {
    if (!Number.isFinite(v) || v < 0 || v > 100) throw new RangeError(`${name} must be a percentage in 0..100, got ${v}`);
  }
  if (!Number.isFinite(full) || full <= 0) throw new RangeError(`fullScaleDelta must be > 0, got ${full}`);
  const delta = (headPercent - basePercent) / full;
  return Math.max(-1, Math.min(1, delta)) + 0;
}

function countLines(lines: ReadonlyMap<number, number>): FileCoverage {
  let hit = 0;
  for (const h of lines.values()) if (h > 0) hit++;
  return { found: lines.size, hit };
}

function summarize(
  files: Map<string, FileCoverage>,
  lines: Map<string, ReadonlyMap<number, number>>,
  totals?: FileCoverage,
): CoverageSummary {
  let linesFound = totals?.found ?? 0;
  let linesHit = totals?.hit ?? 0;
  if (!totals) {
    for (const f of files.values()) {
      linesFound += f.found;
      linesHit += f.hit;
    }
  }
  const percent = linesFound === 0 ? 100 : (linesHit / linesFound) * 100;
  return { linesFound, linesHit, percent, files, lines };
}

/** A non-negative integer from a report field, or null. */
function toCount(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const s = raw.trim();
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}
