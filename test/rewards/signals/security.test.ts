import type { Linter } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  newFindings,
  parseGitlabSast,
  parseSarifSecurity,
  securityScore,
  type SecurityFinding,
} from '../../../src/rewards/signals/index.js';
import { makeFixture, runEslint, type EslintReports, type Fixture } from './fixture.js';

/** ESLint's core rules that are about code injection, standing in for a SAST tool. */
const SECURITY_RULES = ['no-eval', 'no-implied-eval', 'no-new-func'];
const CONFIG: Linter.Config[] = [
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module', globals: { setTimeout: 'readonly' } },
    rules: { 'no-eval': 'error', 'no-implied-eval': 'error', 'no-new-func': 'warn', eqeqeq: 'error' },
  },
];
const HANDLER = `export function handle(req) {
  if (req.kind == 'expr') return eval(req.body);
  if (req.kind == 'later') return setTimeout('run(' + req.body + ')', 10);
  return new Function('x', req.body);
}
`;

describe('security findings from ESLint SARIF (real formatter output)', () => {
  let fixture: Fixture;
  let reports: EslintReports;

  beforeAll(async () => {
    fixture = await makeFixture({ 'src/handler.js': HANDLER });
    reports = await runEslint(fixture.dir, CONFIG);
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('maps SARIF levels without security-severity: error → high, warning → medium', () => {
    const findings = parseSarifSecurity(reports.sarif, { root: fixture.dir, ruleFilter: (r) => SECURITY_RULES.includes(r) });
    expect(findings.map((f) => [f.file, f.line, f.rule, f.severity])).toEqual([
      ['src/handler.js', 2, 'no-eval', 'high'],
      ['src/handler.js', 3, 'no-implied-eval', 'high'],
      ['src/handler.js', 4, 'no-new-func', 'medium'],
    ]);
    // Without the filter, the general lint rule counts as well.
    expect(parseSarifSecurity(reports.sarif, { root: fixture.dir }).filter((f) => f.rule === 'eqeqeq')).toHaveLength(2);
  });

  it('scores the three injections close to zero', () => {
    const findings = parseSarifSecurity(reports.sarif, { root: fixture.dir, ruleFilter: (r) => SECURITY_RULES.includes(r) });
    const fresh = newFindings(findings, [], ['src/handler.js']);
    expect(securityScore(fresh)).toBeCloseTo(Math.exp(-(1.5 + 1.5 + 0.5)), 12);
    expect(securityScore(fresh)).toBeLessThan(0.05);
  });
});

describe('SARIF security-severity (CodeQL-shaped, hand-edited)', () => {
  // Shaped like CodeQL's output: severity on the rule, relative URIs under %SRCROOT%,
  // partialFingerprints. CodeQL itself is not available here.
  const codeql = (results: object[]) =>
    JSON.stringify({
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: 'CodeQL',
              rules: [
                { id: 'js/sql-injection', properties: { 'security-severity': '8.8', tags: ['security'] } },
                { id: 'js/xss', properties: { 'security-severity': '6.1' } },
                { id: 'js/log-injection', properties: { 'security-severity': '0.0' } },
                { id: 'js/rce', properties: { 'security-severity': '9.8' } },
              ],
            },
          },
          results,
        },
      ],
    });
  const result = (ruleIndex: number, ruleId: string, line: number, hash: string, extra: object = {}) => ({
    ruleId,
    ruleIndex,
    message: { text: `${ruleId} here` },
    locations: [{ physicalLocation: { artifactLocation: { uri: 'server/db.js', uriBaseId: '%SRCROOT%' }, region: { startLine: line } } }],
    partialFingerprints: { primaryLocationLineHash: hash },
    ...extra,
  });

  it('buckets security-severity as GitHub does and prefers a result-level property', () => {
    const findings = parseSarifSecurity(
      codeql([
        result(0, 'js/sql-injection', 10, 'a'),
        result(1, 'js/xss', 11, 'b'),
        result(2, 'js/log-injection', 12, 'c'),
        result(3, 'js/rce', 13, 'd'),
        result(1, 'js/xss', 14, 'e', { properties: { 'security-severity': '2.0' } }),
        result(1, 'js/xss', 15, 'f', { suppressions: [{ kind: 'inSource' }] }),
      ]),
    );
    expect(findings.map((f) => [f.file, f.line, f.severity])).toEqual([
      ['server/db.js', 10, 'high'],
      ['server/db.js', 11, 'medium'],
      ['server/db.js', 12, 'info'],
      ['server/db.js', 13, 'critical'],
      ['server/db.js', 14, 'low'],
    ]);
  });

  it('uses fingerprints to tell a moved finding from a new one', () => {
    const base = parseSarifSecurity(codeql([result(0, 'js/sql-injection', 10, 'a')]));
    const head = parseSarifSecurity(codeql([result(0, 'js/sql-injection', 30, 'a'), result(0, 'js/sql-injection', 31, 'z')]));
    expect(newFindings(head, base, ['server/db.js']).map((f) => f.line)).toEqual([31]);
  });
});

describe('GitLab SAST report (gl-sast-report.json, hand-edited)', () => {
  // Shaped after GitLab's security-report-schemas (sast-report-format 15.x); the GitLab
  // analyzers (Semgrep etc.) are not available here to produce one.
  const vuln = (over: Record<string, unknown> = {}) => ({
    id: '6e2f1cf2c8d9c0a1e5a1d8a4c2b3f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b',
    category: 'sast',
    name: 'Improper neutralization of special elements used in an SQL Command',
    description: 'SQL injection',
    severity: 'High',
    scanner: { id: 'semgrep', name: 'Semgrep' },
    location: { file: 'app/db.py', start_line: 12, end_line: 12 },
    identifiers: [
      { type: 'semgrep_id', name: 'bandit.B608', value: 'bandit.B608', url: 'https://semgrep.dev/r/gitlab.bandit.B608' },
      { type: 'cwe', name: 'CWE-89', value: '89' },
    ],
    ...over,
  });
  const report = (vulnerabilities: object[]) =>
    JSON.stringify({
      version: '15.0.6',
      vulnerabilities,
      scan: {
        analyzer: { id: 'semgrep', name: 'Semgrep', version: '4.4.0', vendor: { name: 'GitLab' } },
        scanner: { id: 'semgrep', name: 'Semgrep', version: '1.50.0', vendor: { name: 'GitLab' } },
        type: 'sast',
        start_time: '2025-08-12T10:30:00',
        end_time: '2025-08-12T10:31:00',
        status: 'success',
      },
    });

  it('reads severity, file, line and the primary identifier', () => {
    const findings = parseGitlabSast(
      report([
        vuln(),
        vuln({ severity: 'Critical', location: { file: 'app/exec.py', start_line: 3 }, identifiers: [{ type: 'semgrep_id', name: 'x', value: 'bandit.B602' }] }),
        vuln({ severity: 'Unknown' }),
        vuln({ severity: 'Info' }),
        vuln({ severity: undefined, identifiers: [] }),
      ]),
    );
    expect(findings.map((f) => [f.file, f.line, f.rule, f.severity])).toEqual([
      ['app/db.py', 12, 'semgrep_id:bandit.B608', 'high'],
      ['app/exec.py', 3, 'semgrep_id:bandit.B602', 'critical'],
      ['app/db.py', 12, 'semgrep_id:bandit.B608', 'unknown'],
      ['app/db.py', 12, 'semgrep_id:bandit.B608', 'info'],
      ['app/db.py', 12, 'Improper neutralization of special elements used in an SQL Command', 'unknown'],
    ]);
  });

  it('makes paths relative to a root and normalizes Windows separators', () => {
    const f = parseGitlabSast(report([vuln({ location: { file: 'C:\\builds\\grp\\proj\\app\\db.py', start_line: 1 } })]), {
      root: 'C:/builds/grp/proj',
    });
    expect(f[0]?.file).toBe('app/db.py');
  });

  it('finds new vulnerabilities in changed files only', () => {
    const base = parseGitlabSast(report([vuln()]));
    const head = parseGitlabSast(
      report([
        vuln({ location: { file: 'app/db.py', start_line: 40 } }),
        vuln({ severity: 'Critical', name: 'OS command injection', location: { file: 'app/exec.py', start_line: 3 } }),
        vuln({ location: { file: 'app/untouched.py', start_line: 1 } }),
      ]),
    );
    const fresh = newFindings(head, base, ['app/db.py', 'app/exec.py']);
    expect(fresh.map((f) => f.file)).toEqual(['app/exec.py']);
    expect(securityScore(fresh)).toBeLessThan(0.02);
  });

  it('treats an empty report as no findings and explains malformed ones', () => {
    expect(parseGitlabSast(report([]))).toEqual([]);
    expect(() => parseGitlabSast('')).toThrow(/^GitLab SAST report: the document is empty/);
    expect(() => parseGitlabSast('[]')).toThrow(/^GitLab SAST report: \(root\): /);
    expect(() => parseGitlabSast('{"version": "15.0.0"}')).toThrow(/GitLab SAST report: vulnerabilities: /);
    expect(() => parseGitlabSast(report([vuln({ severity: 'Severe' })]))).toThrow(/vulnerabilities\[0\]\.severity/);
    expect(() => parseGitlabSast(report([vuln({ location: undefined })]))).toThrow(/vulnerabilities\[0\]\.location/);
  });
});

describe('securityScore', () => {
  const f = (severity: SecurityFinding['severity']) => ({ severity });

  it('is exp(-Σ weight): one critical is near 0, informational findings are free', () => {
    expect(securityScore([])).toBe(1);
    expect(securityScore([f('info'), f('info')])).toBe(1);
    expect(securityScore([f('critical')])).toBeCloseTo(0.018, 3);
    expect(securityScore([f('high')])).toBeCloseTo(0.223, 3);
    expect(securityScore([f('medium')])).toBeCloseTo(0.607, 3);
    expect(securityScore([f('unknown')])).toBe(securityScore([f('medium')]));
    expect(securityScore([f('low')])).toBeCloseTo(0.905, 3);
    expect(securityScore([f('high'), f('high')])).toBeCloseTo(securityScore([f('high')]) ** 2, 12);
  });
});
