/**
 * `security_scan_score`: new security findings weighted by severity, from SARIF (CodeQL,
 * Semgrep, ESLint security plugins, ...) or GitLab's SAST report. Unlike lint, one finding is
 * enough to matter, so the score is not divided by the size of the change.
 */
import { z } from 'zod';
import type { MatchableFinding } from './findings.js';
import { relativeToRoot } from './paths.js';
import { parseJsonReport, validateReport } from './report.js';
import { readSarif } from './sarif.js';

export type SecuritySeverity = 'info' | 'unknown' | 'low' | 'medium' | 'high' | 'critical';

export interface SecurityFinding extends MatchableFinding {
  file: string;
  line: number;
  rule: string;
  severity: SecuritySeverity;
  message: string;
}

export interface SecurityParseOptions {
  /** Checkout the scanner ran in; absolute paths under it become repo-relative. */
  root?: string;
  /** Keep only these rules, e.g. the security rules of a general linter's SARIF. */
  ruleFilter?: (rule: string) => boolean;
}

/**
 * `security-severity` (0..10) is bucketed as GitHub code scanning does: ≥ 9 critical, ≥ 7 high,
 * ≥ 4 medium, > 0 low, 0 info. Without it, `level` decides: error → high, warning → medium,
 * note → low; `none` is dropped.
 */
export function parseSarifSecurity(text: string, options: SecurityParseOptions = {}): SecurityFinding[] {
  const out: SecurityFinding[] = [];
  for (const r of readSarif(text, options)) {
    if (r.source !== 'result') continue; // a file the scanner could not read is not a vulnerability
    if (options.ruleFilter && !options.ruleFilter(r.rule)) continue;
    const severity = r.securitySeverity !== undefined ? bucket(r.securitySeverity) : fromLevel(r.level);
    if (severity === null) continue;
    const f: SecurityFinding = { file: r.file, line: r.line, rule: r.rule, severity, message: r.message };
    if (r.fingerprint !== undefined) f.fingerprint = r.fingerprint;
    out.push(f);
  }
  return out;
}

function bucket(score: number): SecuritySeverity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return score > 0 ? 'low' : 'info';
}

function fromLevel(level: 'none' | 'note' | 'warning' | 'error'): SecuritySeverity | null {
  if (level === 'error') return 'high';
  if (level === 'warning') return 'medium';
  return level === 'note' ? 'low' : null;
}

const GitlabSeverity = z.preprocess(
  (v) => (typeof v === 'string' ? (v.toLowerCase() === 'undefined' ? 'unknown' : v.toLowerCase()) : v),
  z.enum(['info', 'unknown', 'low', 'medium', 'high', 'critical']),
);
const GitlabSastReport = z.object({
  version: z.string().optional(),
  vulnerabilities: z.array(
    z.object({
      name: z.string().optional(),
      message: z.string().optional(),
      description: z.string().optional(),
      severity: GitlabSeverity.optional(),
      location: z.object({ file: z.string().optional(), start_line: z.number().int().optional() }),
      identifiers: z.array(z.object({ type: z.string(), value: z.string() })).default([]),
    }),
  ),
});

/**
 * `gl-sast-report.json` (GitLab security report schema 15.x; older 14.x reports also fit).
 * The rule is the primary identifier (`semgrep_id:bandit.B303-1`); the message is the
 * vulnerability's name. A missing severity is `unknown`, which GitLab also shows.
 */
export function parseGitlabSast(text: string, options: SecurityParseOptions = {}): SecurityFinding[] {
  const report = validateReport('GitLab SAST', GitlabSastReport, parseJsonReport('GitLab SAST', text));
  const out: SecurityFinding[] = [];
  for (const v of report.vulnerabilities) {
    const id = v.identifiers[0];
    const rule = id ? `${id.type}:${id.value}` : (v.name ?? 'unknown');
    if (options.ruleFilter && !options.ruleFilter(rule)) continue;
    out.push({
      file: relativeToRoot(v.location.file ?? '', options.root),
      line: v.location.start_line ?? 0,
      rule,
      severity: v.severity ?? 'unknown',
      message: v.name ?? v.message ?? v.description ?? '',
    });
  }
  return out;
}

/** Penalty per finding; `unknown` is treated as medium, informational findings are free. */
export const SECURITY_SEVERITY_WEIGHT: Readonly<Record<SecuritySeverity, number>> = {
  critical: 4,
  high: 1.5,
  medium: 0.5,
  unknown: 0.5,
  low: 0.1,
  info: 0,
};

/**
 * `security_scan_score` in [0, 1]: `exp(-Σ severity weight)` over the new findings. 1 with none;
 * one critical ≈ 0.02, one high ≈ 0.22, one medium ≈ 0.61, one low ≈ 0.90; weights add, so two
 * highs ≈ 0.05. Not normalized by change size: a vulnerability is as bad in a big MR as a small one.
 */
export function securityScore(newFindings: readonly Pick<SecurityFinding, 'severity'>[]): number {
  const weight = newFindings.reduce((sum, f) => sum + SECURITY_SEVERITY_WEIGHT[f.severity], 0);
  return Math.exp(-weight);
}
