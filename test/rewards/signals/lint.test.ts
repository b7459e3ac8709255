import { join } from 'node:path';
import type { Linter } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  lintScore,
  newFindings,
  parseCodeClimateJson,
  parseEslintJson,
  parseLintReport,
  parseSarifLint,
  ReportError,
  type Finding,
} from '../../../src/rewards/signals/index.js';
import { makeFixture, runEslint, type EslintReports, type Fixture } from './fixture.js';

const CONFIG: Linter.Config[] = [
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
    rules: { 'no-unused-vars': 'error', 'no-eval': 'error', 'no-var': 'error', eqeqeq: 'warn' },
  },
];

/** Target branch: one warning and one eval. */
const BASE_APP = `export function run(input) {
  if (input == null) {
    return eval(input);
  }
  return input;
}
`;
/**
 * The MR: an import and an unused constant push the old problems down four lines, adds a
 * second eval, and one suppressed eval that must not count.
 */
const HEAD_APP = `import { helper } from './util.js';

const leftover = 1;

export function run(input) {
  if (input == null) {
    return eval(input);
  }
  // eslint-disable-next-line no-eval
  const checked = eval(input);
  return helper(checked) + eval(input);
}
`;
/** Unchanged by the MR, with a problem on both sides. */
const UTIL = `export function helper(x) {
  var y = x;
  return y;
}
`;
const BROKEN = `export function (\n`;

const key = (f: Finding) => `${f.file}:${f.line} ${f.rule} ${f.severity}`;

describe('lint reports written by ESLint (JSON and SARIF formatters)', () => {
  let fixture: Fixture;
  let base: EslintReports;
  let head: EslintReports;
  let baseRoot: string;
  let headRoot: string;

  beforeAll(async () => {
    fixture = await makeFixture({
      'base/src/app.js': BASE_APP,
      'base/src/util.js': UTIL,
      'head/src/app.js': HEAD_APP,
      'head/src/util.js': UTIL,
      'head/src/broken.js': BROKEN,
    });
    baseRoot = join(fixture.dir, 'base');
    headRoot = join(fixture.dir, 'head');
    [base, head] = await Promise.all([runEslint(baseRoot, CONFIG), runEslint(headRoot, CONFIG)]);
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('reads ESLint JSON into repo-relative findings, suppressed messages excluded', () => {
    const findings = parseEslintJson(head.json, { root: headRoot });
    expect(findings.map(key).sort()).toEqual(
      [
        'src/app.js:3 no-unused-vars major',
        'src/app.js:6 eqeqeq minor',
        'src/app.js:7 no-eval major',
        'src/app.js:11 no-eval major',
        'src/broken.js:1 eslint:parse-error critical',
        'src/util.js:2 no-var major',
      ].sort(),
    );
    expect(findings.find((f) => f.rule === 'no-eval')?.message).toBe('eval can be harmful.');
  });

  it('reads the same findings from the SARIF formatter (parse errors come as notifications)', () => {
    const fromSarif = parseSarifLint(head.sarif, { root: headRoot });
    const fromJson = parseEslintJson(head.json, { root: headRoot });
    const strip = (fs: Finding[]) =>
      fs.map((f) => ({ ...f, rule: f.rule === 'ESL0999' ? 'eslint:parse-error' : f.rule })).map(key).sort();
    expect(strip(fromSarif)).toEqual(strip(fromJson));
    expect(fromSarif.find((f) => f.file === 'src/broken.js')?.rule).toBe('ESL0999');
  });

  it('finds exactly what the MR introduced although every old finding moved', () => {
    const changed = ['src/app.js', 'src/broken.js'];
    const pairs = [
      [parseEslintJson(head.json, { root: headRoot }), parseEslintJson(base.json, { root: baseRoot })],
      [parseSarifLint(head.sarif, { root: headRoot }), parseSarifLint(base.sarif, { root: baseRoot })],
    ] as const;
    for (const [h, b] of pairs) {
      expect(newFindings(h, b, changed).map((f) => `${f.file}:${f.line} ${f.severity}`)).toEqual([
        'src/app.js:3 major', // no-unused-vars
        'src/app.js:11 major', // the second eval
        'src/broken.js:1 critical',
      ]);
    }
  });

  it('ignores findings outside the changed files and paths outside the root', () => {
    const headFindings = parseEslintJson(head.json, { root: headRoot });
    expect(newFindings(headFindings, [], ['src/util.js']).map((f) => f.rule)).toEqual(['no-var']);
    expect(newFindings(headFindings, [], [])).toEqual([]);
    // Without the root, ESLint's absolute paths never match repo-relative changed files.
    const unrooted = parseEslintJson(head.json);
    expect(unrooted.every((f) => f.file.startsWith('/'))).toBe(true);
    expect(newFindings(unrooted, [], ['src/app.js'])).toEqual([]);
    // A root that is not the lint root keeps the paths absolute as well.
    expect(parseEslintJson(head.json, { root: baseRoot }).every((f) => f.file.startsWith(headRoot.replace(/\\/g, '/')))).toBe(
      true,
    );
  });

  it('detects the format of real reports', () => {
    expect(parseLintReport(head.json, { root: headRoot })).toEqual(parseEslintJson(head.json, { root: headRoot }));
    expect(parseLintReport(head.sarif, { root: headRoot })).toEqual(parseSarifLint(head.sarif, { root: headRoot }));
  });

  it('scores the real new findings with the documented formula', () => {
    const fresh = newFindings(parseEslintJson(head.json, { root: headRoot }), parseEslintJson(base.json, { root: baseRoot }), [
      'src/app.js',
      'src/broken.js',
    ]);
    // major + major + critical = 4 weighted findings over 9 changed lines (floored to 20).
    expect(lintScore(fresh, 9)).toBeCloseTo(0.5 ** ((4 * 100) / 20 / 3), 12);
  });
});

describe('GitLab Code Quality / Code Climate JSON', () => {
  // Hand-written after GitLab's documented report format (docs/ci/testing/code_quality):
  // no Code Climate engine or GitLab runner is available here to produce one.
  const report = (issues: object[]) => JSON.stringify(issues);
  const issue = (over: Record<string, unknown> = {}) => ({
    description: "'leftover' is assigned a value but never used.",
    check_name: 'no-unused-vars',
    fingerprint: '7815696ecbf1c96e6894b779456d330e',
    severity: 'minor',
    location: { path: 'lib/index.js', lines: { begin: 42 } },
    ...over,
  });

  it('reads GitLab Code Quality issues, positions and missing severities', () => {
    const findings = parseCodeClimateJson(
      report([
        issue(),
        issue({ type: 'issue', severity: 'BLOCKER', fingerprint: 'b', location: { path: './lib\\other.js', positions: { begin: { line: 7, column: 1 } } } }),
        issue({ severity: undefined, fingerprint: 'c' }),
      ]),
    );
    expect(findings).toEqual([
      { file: 'lib/index.js', line: 42, rule: 'no-unused-vars', severity: 'minor', message: "'leftover' is assigned a value but never used.", fingerprint: '7815696ecbf1c96e6894b779456d330e' },
      expect.objectContaining({ file: 'lib/other.js', line: 7, severity: 'blocker', fingerprint: 'b' }),
      expect.objectContaining({ severity: 'major' }),
    ]);
  });

  it('reads Code Climate engine output (NUL-separated) and skips non-issues', () => {
    const text = [JSON.stringify({ type: 'issue', ...issue() }), JSON.stringify({ type: 'measurement', ...issue({ fingerprint: 'm' }) })].join('\0');
    expect(parseCodeClimateJson(text).map((f) => f.fingerprint)).toEqual(['7815696ecbf1c96e6894b779456d330e']);
  });

  it('matches on fingerprints when every finding has one, else on messages', () => {
    const base = parseCodeClimateJson(report([issue()]));
    const moved = parseCodeClimateJson(report([issue({ location: { path: 'lib/index.js', lines: { begin: 90 } } }), issue({ fingerprint: 'new-one' })]));
    expect(newFindings(moved, base, ['lib/index.js']).map((f) => f.fingerprint)).toEqual(['new-one']);
    // Same message and rule twice, base has one: one is new, whichever line it is on.
    const noFp = (line: number) => issue({ fingerprint: undefined, location: { path: 'lib/index.js', lines: { begin: line } } });
    const fresh = newFindings(parseCodeClimateJson(report([noFp(3), noFp(50)])), parseCodeClimateJson(report([noFp(50)])), ['lib/index.js']);
    expect(fresh.map((f) => f.line)).toEqual([3]);
  });

  it('treats an empty array as no findings and explains malformed reports', () => {
    expect(parseCodeClimateJson('[]')).toEqual([]);
    expect(parseLintReport('[]')).toEqual([]);
    expect(() => parseCodeClimateJson('')).toThrow(/^Code Climate JSON report: the document is empty/);
    expect(() => parseCodeClimateJson('{"issues": []}')).toThrow(/Code Climate JSON report: \(root\): /);
    expect(() => parseCodeClimateJson(report([issue({ location: { lines: { begin: 1 } } })]))).toThrow(
      /Code Climate JSON report: \[0\]\.location\.path: /,
    );
    expect(() => parseCodeClimateJson(report([issue({ severity: 'urgent' })]))).toThrow(/\[0\]\.severity/);
  });
});

describe('ESLint JSON and SARIF edge cases', () => {
  it('normalizes Windows paths against a Windows root', () => {
    const text = JSON.stringify([
      { filePath: 'C:\\Users\\ci\\repo\\src\\a.js', messages: [{ ruleId: 'no-eval', severity: 2, message: 'eval', line: 1 }] },
      { filePath: 'D:\\other\\b.js', messages: [{ ruleId: 'no-eval', severity: 1, message: 'eval', line: 2 }] },
    ]);
    expect(parseEslintJson(text, { root: 'c:\\users\\ci\\repo' }).map((f) => f.file)).toEqual(['src/a.js', 'D:/other/b.js']);
  });

  it('reads SARIF with Windows file URIs, relative URIs under %SRCROOT% and rule default levels', () => {
    const sarif = {
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: 'lint', rules: [{ id: 'r1', defaultConfiguration: { level: 'note' } }] } },
          originalUriBaseIds: { SRCROOT: { uri: 'file:///C:/ci/repo/' } },
          results: [
            { ruleId: 'r1', message: { text: 'a' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'file:///C:/ci/repo/src/My%20File.ts' }, region: { startLine: 3 } } }] },
            { ruleId: 'r2', message: { text: 'b' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'src/x.ts', uriBaseId: 'SRCROOT' } } }] },
            { ruleId: 'r2', message: { text: 'c' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'src/y.ts', uriBaseId: '%SRCROOT%' } } }] },
            { ruleId: 'r2', level: 'none', message: { text: 'd' } },
            { ruleId: 'r2', kind: 'pass', message: { text: 'e' } },
            { ruleId: 'r2', baselineState: 'absent', message: { text: 'f' } },
            { ruleId: 'r2', message: { text: 'g' }, suppressions: [{ kind: 'external', status: 'rejected' }] },
          ],
        },
      ],
    };
    const findings = parseSarifLint(JSON.stringify(sarif), { root: 'C:\\ci\\repo' });
    expect(findings.map((f) => [f.file, f.line, f.severity, f.message])).toEqual([
      ['src/My File.ts', 3, 'info', 'a'],
      ['src/x.ts', 0, 'minor', 'b'],
      ['src/y.ts', 0, 'minor', 'c'],
      ['', 0, 'minor', 'g'],
    ]);
  });

  it('treats empty reports as no findings', () => {
    expect(parseEslintJson('[]')).toEqual([]);
    expect(parseSarifLint(JSON.stringify({ version: '2.1.0', runs: [] }))).toEqual([]);
    expect(parseSarifLint(JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [] }] }))).toEqual([]);
  });

  it('throws ReportErrors that name the format and the field', () => {
    expect(() => parseEslintJson('not json')).toThrow(/^ESLint JSON report: not valid JSON/);
    expect(() => parseEslintJson('[{"filePath": "a.js", "messages": [{"severity": 2}]}]')).toThrow(
      /ESLint JSON report: \[0\]\.messages\[0\]\.message: /,
    );
    expect(() => parseSarifLint('{"version": "2.1.0"}')).toThrow(/^SARIF report: runs: /);
    expect(() => parseSarifLint('{"version": "1.0.0", "runs": []}')).toThrow(/SARIF report: version 1.0.0 is not supported/);
    expect(() => parseLintReport('{"foo": 1}')).toThrow(ReportError);
    expect(() => parseLintReport('{"foo": 1}')).toThrow(/cannot tell the lint report format/);
  });
});

describe('lintScore', () => {
  const f = (severity: Finding['severity']) => ({ severity });

  it('is 1 without findings and follows 0.5^(weighted per 100 lines / 3)', () => {
    expect(lintScore([], 0)).toBe(1);
    expect(lintScore([], 500)).toBe(1);
    expect(lintScore([f('major')], 100)).toBeCloseTo(0.794, 3);
    expect(lintScore([f('major')], 10)).toBeCloseTo(0.315, 3); // floored to 20 lines
    expect(lintScore(Array.from({ length: 6 }, () => f('major')), 100)).toBeCloseTo(0.25, 12);
    expect(lintScore([f('minor'), f('minor')], 100)).toBeCloseTo(lintScore([f('major')], 100), 12);
  });

  it('decreases with severity and density and stays in [0, 1]', () => {
    const order = (['info', 'minor', 'major', 'critical', 'blocker'] as const).map((s) => lintScore([f(s)], 50));
    expect([...order].sort((a, b) => b - a)).toEqual(order);
    expect(lintScore([f('major')], 1000)).toBeGreaterThan(lintScore([f('major')], 100));
    const awful = lintScore(Array.from({ length: 500 }, () => f('blocker')), 1);
    expect(awful).toBeGreaterThanOrEqual(0);
    expect(awful).toBeLessThan(1e-6);
  });

  it('rejects a nonsensical line count', () => {
    expect(() => lintScore([], -1)).toThrow(RangeError);
    expect(() => lintScore([], Number.NaN)).toThrow(/changedLines/);
  });
});
