import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  coverageDelta,
  detectCoverageFormat,
  parseCobertura,
  parseCoverage,
  parseLcov,
  ReportError,
  type CoverageSummary,
} from '../../../src/rewards/signals/index.js';
import { CHILD_VITEST_CONFIG, makeFixture, runVitestCoverage, type Fixture } from './fixture.js';

const MATH = `export function add(a: number, b: number): number {
  return a + b;
}

export function sign(n: number): string {
  if (n > 0) return 'positive';
  if (n < 0) return 'negative';
  return 'zero';
}

export function unused(): number {
  return 42;
}
`;
const UNTESTED = `export function never() {
  return 1;
}
`;
/** The target branch tests `add` only; the MR adds tests for every branch of `sign`. */
const BASE_TEST = `import { expect, test } from 'vitest';
import { add } from '../src/math';
test('add', () => { expect(add(1, 2)).toBe(3); });
`;
const HEAD_TEST = `import { expect, test } from 'vitest';
import { add, sign } from '../src/math';
test('add', () => { expect(add(1, 2)).toBe(3); });
test('sign', () => { expect([sign(1), sign(-1), sign(0)]).toEqual(['positive', 'negative', 'zero']); });
`;

interface Reports {
  lcov: string;
  cobertura: string;
}

async function coverageOf(fixture: Fixture): Promise<Reports> {
  await runVitestCoverage(fixture.dir);
  const [lcov, cobertura] = await Promise.all([
    readFile(join(fixture.dir, 'coverage/lcov.info'), 'utf8'),
    readFile(join(fixture.dir, 'coverage/cobertura-coverage.xml'), 'utf8'),
  ]);
  return { lcov, cobertura };
}

describe('coverage reports written by vitest --coverage (v8)', () => {
  const fixtures: Fixture[] = [];
  let base: Reports;
  let head: Reports;
  let headDir: string;

  beforeAll(async () => {
    const project = (test: string) =>
      makeFixture({ 'vitest.config.mjs': CHILD_VITEST_CONFIG, 'src/math.ts': MATH, 'src/untested.js': UNTESTED, 'test/math.test.ts': test });
    const [b, h] = await Promise.all([project(BASE_TEST), project(HEAD_TEST)]);
    fixtures.push(b, h);
    headDir = h.dir;
    [base, head] = await Promise.all([coverageOf(b), coverageOf(h)]);
  });
  afterAll(async () => {
    await Promise.all(fixtures.map((f) => f.cleanup()));
  });

  it('detects each format', () => {
    expect(detectCoverageFormat(head.lcov)).toBe('lcov');
    expect(detectCoverageFormat(head.cobertura)).toBe('cobertura');
  });

  it('reads LCOV per file, with repo-relative paths and untested files included', () => {
    const s = parseLcov(base.lcov);
    expect([...s.files.keys()].sort()).toEqual(['src/math.ts', 'src/untested.js']);
    expect(s.files.get('src/untested.js')).toMatchObject({ hit: 0 });
    const math = s.files.get('src/math.ts');
    expect(math && math.found > math.hit && math.hit > 0).toBe(true);
    expect(s.percent).toBeCloseTo((s.linesHit / s.linesFound) * 100, 10);
  });

  it('agrees between LCOV and Cobertura for the same run (method lines are not double-counted)', () => {
    for (const r of [base, head]) {
      const lcov = parseLcov(r.lcov);
      const cob = parseCobertura(r.cobertura);
      expect(cob.linesFound).toBe(lcov.linesFound);
      expect(cob.linesHit).toBe(lcov.linesHit);
      expect(cob.files).toEqual(lcov.files);
      expect(parseCoverage(r.cobertura)).toEqual(cob);
    }
  });

  it('resolves Cobertura filenames through <source> when a root is given', () => {
    const cob = parseCobertura(head.cobertura, { root: headDir });
    expect([...cob.files.keys()].sort()).toEqual(['src/math.ts', 'src/untested.js']);
  });

  it('turns the real base → head gain into a positive delta', () => {
    const b = parseLcov(base.lcov).percent;
    const h = parseCobertura(head.cobertura).percent;
    expect(h).toBeGreaterThan(b);
    const d = coverageDelta(h, b);
    expect(d).toBeGreaterThan(0);
    expect(d).toBe(Math.min(1, (h - b) / 10));
    expect(coverageDelta(b, h)).toBe(-d);
  });
});

describe('parseLcov edge cases', () => {
  it('treats an empty report as no instrumented lines (100%, as Istanbul does)', () => {
    expect(parseLcov('')).toMatchObject({ linesFound: 0, linesHit: 0, percent: 100 });
    expect(parseLcov('').files.size).toBe(0);
  });

  it('sums hits of a file reported in two records (merged runs) by line', () => {
    const s = parseLcov('SF:a.ts\nDA:1,0\nDA:2,1\nend_of_record\nSF:a.ts\nDA:1,3\nDA:2,0\nend_of_record\n');
    expect(s.files.get('a.ts')).toEqual({ found: 2, hit: 2 });
  });

  it('falls back to LF/LH for records without DA lines, and tolerates a missing end_of_record', () => {
    const s = parseLcov('TN:\nSF:lib/x.py\nLF:10\nLH:4\nend_of_record\nSF:lib/y.py\nDA:1,1\n');
    expect(s.files.get('lib/x.py')).toEqual({ found: 10, hit: 4 });
    expect(s).toMatchObject({ linesFound: 11, linesHit: 5 });
  });

  it('normalizes Windows paths and makes them relative to a Windows root, case-insensitively', () => {
    const s = parseLcov('SF:C:\\build\\proj\\src\\a.ts\r\nDA:1,1\r\nend_of_record\r\n', { root: 'c:\\Build\\proj\\' });
    expect([...s.files.keys()]).toEqual(['src/a.ts']);
  });

  it('keeps files outside the root absolute, so they never match a changed file', () => {
    const s = parseLcov('SF:/elsewhere/lib.ts\nDA:1,1\nend_of_record\nSF:/work/repo/src/x.ts\nDA:1,0\nend_of_record\n', {
      root: '/work/repo',
    });
    expect([...s.files.keys()]).toEqual(['/elsewhere/lib.ts', 'src/x.ts']);
  });

  it('throws a ReportError naming LCOV and the line for malformed records', () => {
    expect(() => parseLcov('SF:a.ts\nDA:one,1\n')).toThrow(/^LCOV report: line 2: malformed DA: record/);
    expect(() => parseLcov('DA:1,1\n')).toThrow(/LCOV report: line 1: DA: outside an SF: record/);
    expect(() => parseLcov('hello world\n')).toThrow(ReportError);
    expect(() => parseLcov('SF:\n')).toThrow(/SF: without a path/);
  });
});

describe('parseCobertura edge cases', () => {
  const doc = (classes: string, extra = '') => `<?xml version="1.0"?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<!-- generated by a tool -->
<coverage lines-valid="99" lines-covered="1"${extra}><sources><source>C:\\ci\\proj</source></sources>
<packages><package name="p"><classes>${classes}</classes></package></packages></coverage>`;

  it('merges classes of one file (inner classes) by line and resolves Windows sources', () => {
    const xml = doc(
      `<class name="A" filename="src\\A.java"><lines><line number="1" hits="1"/><line number="2" hits="0"/></lines></class>
       <class name="A$Inner" filename="src\\A.java"><lines><line number="2" hits="5"/><line number="3" hits="0"/></lines></class>`,
    );
    const s = parseCobertura(xml, { root: 'C:/ci/proj' });
    expect([...s.files.entries()]).toEqual([['src/A.java', { found: 3, hit: 2 }]]);
    expect(s.percent).toBeCloseTo(66.667, 2);
  });

  it('joins a source below the root (coverage.py with --source) and relative sources', () => {
    const xml = (source: string) =>
      `<coverage><sources><source>${source}</source></sources><packages><package><classes>
<class filename="pkg/mod.py"><lines><line number="1" hits="1"/></lines></class></classes></package></packages></coverage>`;
    expect([...parseCobertura(xml('/builds/g/p/src'), { root: '/builds/g/p' }).files.keys()]).toEqual(['src/pkg/mod.py']);
    expect([...parseCobertura(xml('/builds/g/p/src')).files.keys()]).toEqual(['pkg/mod.py']);
    expect([...parseCobertura(xml('src')).files.keys()]).toEqual(['src/pkg/mod.py']);
    expect([...parseCobertura(xml('/elsewhere'), { root: '/builds/g/p' }).files.keys()]).toEqual(['/elsewhere/pkg/mod.py']);
  });

  it('uses the root totals when there are no classes, and an empty <coverage/> is 100%', () => {
    expect(parseCobertura(doc(''))).toMatchObject({ linesFound: 99, linesHit: 1 });
    expect(parseCobertura('<coverage/>')).toMatchObject({ linesFound: 0, percent: 100 });
  });

  it('decodes entities in attributes but never expands DTD entities (no XXE)', () => {
    const xml = `<?xml version="1.0"?>
<!DOCTYPE coverage [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<coverage><packages><package><classes>
<class filename="a&amp;b.py"><lines><line number="1" hits="1"/></lines></class>
<class filename="&xxe;.py"><lines><line number="1" hits="0"/></lines></class>
</classes></package></packages></coverage>`;
    expect([...parseCobertura(xml).files.keys()]).toEqual(['a&b.py', '&xxe;.py']);
  });

  it('throws a ReportError naming Cobertura and what is wrong', () => {
    expect(() => parseCobertura('')).toThrow(/^Cobertura report: the document is empty/);
    expect(() => parseCobertura('<report></report>')).toThrow(/Cobertura report: root element is <report>, expected <coverage>/);
    expect(() => parseCobertura('<coverage><packages></coverage>')).toThrow(
      /Cobertura report: malformed XML: <\/coverage> does not close <packages>/,
    );
    expect(() => parseCobertura('<coverage><packages>')).toThrow(/<packages> is never closed/);
    expect(() => parseCobertura('<coverage><class name="x"><lines/></class></coverage>')).toThrow(/<class> without a filename/);
    expect(() =>
      parseCobertura('<coverage><class filename="a"><lines><line number="x" hits="1"/></lines></class></coverage>'),
    ).toThrow(/<line> needs numeric number and hits/);
  });
});

describe('detectCoverageFormat / parseCoverage', () => {
  it('returns null for anything else and parseCoverage says which formats it tried', () => {
    expect(detectCoverageFormat('{"total": {}}')).toBeNull();
    expect(detectCoverageFormat('<html></html>')).toBeNull();
    expect(() => parseCoverage('{"total": {}}')).toThrow(/Coverage report: neither LCOV .* nor Cobertura/);
    const empty: CoverageSummary = parseCoverage('  \n');
    expect(empty.linesFound).toBe(0);
  });
});

describe('coverageDelta', () => {
  it('maps percentage points linearly, 10 points = full scale, clamped to [-1, 1]', () => {
    expect(coverageDelta(80, 80)).toBe(0);
    expect(coverageDelta(82.5, 80)).toBeCloseTo(0.25);
    expect(coverageDelta(77.5, 80)).toBeCloseTo(-0.25);
    expect(coverageDelta(100, 50)).toBe(1);
    expect(coverageDelta(0, 100)).toBe(-1);
    expect(coverageDelta(81, 80, { fullScaleDelta: 2 })).toBeCloseTo(0.5);
  });

  it('rejects values that are not percentages', () => {
    expect(() => coverageDelta(Number.NaN, 1)).toThrow(RangeError);
    expect(() => coverageDelta(101, 1)).toThrow(/headPercent must be a percentage/);
    expect(() => coverageDelta(1, 1, { fullScaleDelta: 0 })).toThrow(/fullScaleDelta/);
  });
});
