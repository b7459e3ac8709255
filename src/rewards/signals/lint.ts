/**
 * `lint_score`: new lint findings in the files an MR changed, from ESLint JSON, Code Climate /
 * GitLab Code Quality JSON or SARIF. All three are mapped onto Code Climate's severity scale,
 * the one GitLab shows in MR widgets.
 */
import { z } from 'zod';
import type { MatchableFinding } from './findings.js';
import { relativeToRoot } from './paths.js';
import { parseJsonReport, ReportError, validateReport } from './report.js';
import { readSarif, type SarifLevel } from './sarif.js';

export type Severity = 'info' | 'minor' | 'major' | 'critical' | 'blocker';

export interface Finding extends MatchableFinding {
  file: string;
  line: number;
  rule: string;
  severity: Severity;
  message: string;
}

export interface LintParseOptions {
  /** Checkout the linter ran in; ESLint reports absolute paths, which are made relative to it. */
  root?: string;
}

const EslintMessage = z.object({
  ruleId: z.string().nullable().optional(),
  severity: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  message: z.string(),
  line: z.number().int().optional(),
  fatal: z.boolean().optional(),
});
const EslintReport = z.array(z.object({ filePath: z.string(), messages: z.array(EslintMessage) }));

/**
 * `eslint -f json` output (also what `ESLint#lintFiles` returns, serialized). Errors are
 * `major`, warnings `minor`; a fatal message (the file does not parse) is `critical` with rule
 * `eslint:parse-error`. Suppressed messages are not findings.
 */
export function parseEslintJson(text: string, options: LintParseOptions = {}): Finding[] {
  const report = validateReport('ESLint JSON', EslintReport, parseJsonReport('ESLint JSON', text));
  const out: Finding[] = [];
  for (const file of report) {
    const path = relativeToRoot(file.filePath, options.root);
    for (const m of file.messages) {
      if (m.severity === 0) continue;
      out.push({
        file: path,
        line: m.line ?? 0,
        rule: m.ruleId ?? (m.fatal ? 'eslint:parse-error' : 'eslint:unknown'),
        severity: m.fatal ? 'critical' : m.severity === 2 ? 'major' : 'minor',
        message: m.message,
      });
    }
  }
  return out;
}

const CodeClimateSeverity = z.preprocess(
  (v) => (typeof v === 'string' ? v.toLowerCase() : v),
  z.enum(['info', 'minor', 'major', 'critical', 'blocker']),
);
const CodeClimateIssue = z.object({
  type: z.string().optional(),
  check_name: z.string(),
  description: z.string(),
  fingerprint: z.string().optional(),
  severity: CodeClimateSeverity.optional(),
  location: z.object({
    path: z.string(),
    lines: z.object({ begin: z.number().int() }).optional(),
    positions: z.object({ begin: z.object({ line: z.number().int().optional() }) }).optional(),
  }),
});
const CodeClimateReport = z.array(CodeClimateIssue);

/**
 * GitLab Code Quality report (`gl-code-quality-report.json`, a JSON array) or Code Climate
 * engine output (the same objects separated by NUL characters). Paths are repo-relative already.
 * A missing severity is `major`, Code Climate's default; entries whose `type` is not `issue`
 * are skipped.
 */
export function parseCodeClimateJson(text: string, options: LintParseOptions = {}): Finding[] {
  const parsed = text.includes('\0') && !text.trimStart().startsWith('[')
    ? text
        .split('\0')
        .filter((chunk) => chunk.trim() !== '')
        .map((chunk) => parseJsonReport('Code Climate JSON', chunk))
    : parseJsonReport('Code Climate JSON', text);
  const issues = validateReport('Code Climate JSON', CodeClimateReport, parsed);
  return issues
    .filter((i) => i.type === undefined || i.type.toLowerCase() === 'issue')
    .map((i) => {
      const f: Finding = {
        file: relativeToRoot(i.location.path, options.root),
        line: i.location.lines?.begin ?? i.location.positions?.begin.line ?? 0,
        rule: i.check_name,
        severity: i.severity ?? 'major',
        message: i.description,
      };
      if (i.fingerprint !== undefined && i.fingerprint !== '') f.fingerprint = i.fingerprint;
      return f;
    });
}

const SARIF_LEVEL: Readonly<Record<Exclude<SarifLevel, 'none'>, Severity>> = {
  error: 'major',
  warning: 'minor',
  note: 'info',
};

/**
 * SARIF from any linter: `error` → major, `warning` → minor, `note` → info; `none` is dropped.
 * An error notification tied to a file (ESLint's SARIF formatter reports parse errors so, as
 * `ESL0999`) is `critical`, like a fatal message in ESLint JSON.
 */
export function parseSarifLint(text: string, options: LintParseOptions = {}): Finding[] {
  const out: Finding[] = [];
  for (const r of readSarif(text, options)) {
    if (r.level === 'none') continue;
    const severity = r.source === 'notification' ? 'critical' : SARIF_LEVEL[r.level];
    const f: Finding = { file: r.file, line: r.line, rule: r.rule, severity, message: r.message };
    if (r.fingerprint !== undefined) f.fingerprint = r.fingerprint;
    out.push(f);
  }
  return out;
}

export type LintFormat = 'eslint' | 'codeclimate' | 'sarif';

/** Guesses the lint report format from its shape; throws {@link ReportError} when it cannot. */
export function parseLintReport(text: string, options: LintParseOptions & { format?: LintFormat } = {}): Finding[] {
  const format = options.format ?? detectLintFormat(text);
  if (format === 'eslint') return parseEslintJson(text, options);
  if (format === 'codeclimate') return parseCodeClimateJson(text, options);
  return parseSarifLint(text, options);
}

function detectLintFormat(text: string): LintFormat {
  const t = text.trimStart();
  if (t.startsWith('{') && /"runs"\s*:/.test(t.slice(0, 4096))) return 'sarif';
  if (t.startsWith('[')) {
    const head = t.slice(0, 4096);
    if (/"filePath"\s*:/.test(head)) return 'eslint';
    if (/"check_name"\s*:/.test(head)) return 'codeclimate';
    if (/^\[\s*\]\s*$/.test(t)) return 'codeclimate'; // empty either way
  }
  throw new ReportError('Lint', 'cannot tell the lint report format (ESLint JSON, Code Climate JSON or SARIF)');
}

/** Penalty weight per finding; a blocker costs as much as eight minor ones. */
export const LINT_SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = {
  info: 0.1,
  minor: 0.5,
  major: 1,
  critical: 2,
  blocker: 4,
};

export interface LintScoreOptions {
  /** Weighted findings per 100 changed lines that halve the score; default 3. */
  halfLifePer100Lines?: number;
  /** Changed-line floor, so a 2-line fix with one warning is not judged per line; default 20. */
  minLines?: number;
}

/**
 * `lint_score` in [0, 1]: `0.5 ^ (density / halfLife)`, where
 * `density = Σ severity weight × 100 / max(changedLines, minLines)` (weighted new findings per
 * 100 changed lines) and `halfLife` defaults to 3. So 1 = no new findings; one new error in a
 * 100-line change ≈ 0.79; one error in a 10-line change (floored to 20 lines) ≈ 0.31; six errors
 * per 100 lines = 0.25. Per changed line, so a large MR is not punished for its size alone.
 */
export function lintScore(newFindings: readonly Pick<Finding, 'severity'>[], changedLines: number, options: LintScoreOptions = {}): number {
  const halfLife = options.halfLifePer100Lines ?? 3;
  const minLines = options.minLines ?? 20;
  if (!Number.isFinite(changedLines) || changedLines < 0) {
    throw new RangeError(`changedLines must be a non-negative number, got ${changedLines}`);
  }
  if (!(halfLife > 0) || !(minLines > 0)) throw new RangeError('halfLifePer100Lines and minLines must be > 0');
  const weight = newFindings.reduce((sum, f) => sum + LINT_SEVERITY_WEIGHT[f.severity], 0);
  const density = (weight * 100) / Math.max(changedLines, minLines);
  return 0.5 ** (density / halfLife);
}
