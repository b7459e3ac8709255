import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseCobertura,
  parseLcov,
  patchCoverage,
  patchCoverageScore,
  patchPercent,
  type ChangedLine,
  type CoverageSummary,
} from '../../../src/rewards/signals/index.js';
import { readChangeSet } from '../../../src/workspace/changes.js';
import { git } from '../../../src/workspace/git.js';
import { authorEnv, tempDir } from '../../workspace/helpers.js';
import { CHILD_VITEST_CONFIG, makeFixture, runVitestCoverage, type Fixture } from './fixture.js';

/** On the target branch: `add` (with its operands the other way round), and a file no test loads. */
const BASE_MATH = `export function add(a: number, b: number): number {
  return b + a;
}
`;
const LEGACY = `export function legacy(): number {
  return 1;
}
`;
/** The MR modifies line 2 and adds lines 4–13; its test leaves \`sign(0)\` and \`untested\` out. */
const HEAD_MATH = `export function add(a: number, b: number): number {
  return a + b;
}

export function sign(n: number): string {
  if (n > 0) return 'positive';
  if (n < 0) return 'negative';
  return 'zero';
}

export function untested(): number {
  return 42;
}
`;
const BASE_TEST = `import { expect, test } from 'vitest';
import { add } from '../src/math';
test('add', () => { expect(add(1, 2)).toBe(3); });
`;
const HEAD_TEST = `import { expect, test } from 'vitest';
import { add, sign } from '../src/math';
test('add', () => { expect(add(1, 2)).toBe(3); });
test('sign', () => { expect([sign(1), sign(-1)]).toEqual(['positive', 'negative']); });
`;

const commit = async (dir: string, message: string): Promise<string> => {
  await git(['add', '--all'], { cwd: dir });
  await git(['commit', '--quiet', '-m', message], { cwd: dir, env: authorEnv });
  return git(['rev-parse', 'HEAD'], { cwd: dir });
};

describe('patch coverage of a real change, from the reports vitest --coverage (v8) writes', () => {
  let fixture: Fixture;
  let lcov: CoverageSummary;
  let cobertura: CoverageSummary;
  let changed: ChangedLine[];

  beforeAll(async () => {
    fixture = await makeFixture({
      '.gitignore': 'node_modules\ncoverage\n',
      'vitest.config.mjs': CHILD_VITEST_CONFIG,
      'src/math.ts': BASE_MATH,
      'src/legacy.ts': LEGACY,
      'test/math.test.ts': BASE_TEST,
    });
    const { dir } = fixture;
    await git(['init', '--quiet', '--initial-branch=main', dir]);
    const base = await commit(dir, 'base');
    await writeFile(join(dir, 'src/math.ts'), HEAD_MATH);
    await writeFile(join(dir, 'test/math.test.ts'), HEAD_TEST);
    const head = await commit(dir, 'the merge request');
    // The evaluator reads the change from its bare mirror; a clone's .git is the same kind of store.
    changed = (await readChangeSet({ kind: 'commits', gitDir: join(dir, '.git'), base, head })).added;
    await runVitestCoverage(dir);
    lcov = parseLcov(await readFile(join(dir, 'coverage/lcov.info'), 'utf8'));
    cobertura = parseCobertura(await readFile(join(dir, 'coverage/cobertura-coverage.xml'), 'utf8'));
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('takes the modified and added lines of the head from git, in source files and tests alike', () => {
    const math = changed.filter((l) => l.file === 'src/math.ts').map((l) => l.line);
    // Line 2 modified, ten lines added. Git places the added block after the old line 2, so the
    // first `}` is new and the last one is the old line 3: the same change, and braces are
    // never instrumented.
    expect(math).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(changed.some((l) => l.file === 'test/math.test.ts')).toBe(true);
    expect(changed.some((l) => l.file === 'src/legacy.ts')).toBe(false);
  });

  it('counts the changed lines the report instruments, and those executed', () => {
    // Instrumented in math.ts: 2 (add), 6, 7, 8 (sign) and 12 (untested); executed: 2, 6, 7.
    // The test file's lines are not in the report, so they are not coverable.
    expect(patchCoverage(lcov, changed)).toEqual({ coverable: 5, covered: 3 });
    expect(patchCoverage(cobertura, changed)).toEqual({ coverable: 5, covered: 3 });
  });

  it('leaves out what did not change, however it is covered', () => {
    const only = (line: number) => patchCoverage(lcov, [{ file: 'src/math.ts', line }]);
    expect(only(2)).toEqual({ coverable: 1, covered: 1 });
    expect(only(8)).toEqual({ coverable: 1, covered: 0 });
    expect(only(4)).toEqual({ coverable: 0, covered: 0 }); // a blank line
    // legacy.ts is instrumented and never run, but the MR did not touch it: only the project pays.
    expect(lcov.files.get('src/legacy.ts')).toMatchObject({ hit: 0 });
    expect(patchCoverage(lcov, changed)).toEqual(patchCoverage(lcov, changed.filter((l) => l.file !== 'src/legacy.ts')));
  });

  it('scores the patch against the project, as Codecov compares them', () => {
    const patch = patchCoverage(lcov, changed)!;
    expect(patchPercent(patch)).toBe(60);
    // The head's project: 3 of 6 lines (legacy.ts's one line never runs) = 50%.
    expect(lcov.percent).toBe(50);
    // 60% against 50%: (60 − 50) / (100 − 50) = +0.2.
    expect(patchCoverageScore(patch, lcov.percent)).toBe(0.2);
  });
});

describe('the changed lines of a diff, as patch coverage counts them', () => {
  it('counts a renamed file by its modified lines only, and nothing of a deleted file', async () => {
    const repo = await tempDir('doom-patch-diff-');
    try {
      const body = Array.from({ length: 30 }, (_, i) => `export const v${i} = ${i};`);
      await git(['init', '--quiet', '--initial-branch=main', repo.path]);
      await writeFile(join(repo.path, 'old.ts'), `${body.join('\n')}\n`);
      await writeFile(join(repo.path, 'gone.ts'), 'export const gone = 1;\n');
      const base = await commit(repo.path, 'base');
      await git(['mv', 'old.ts', 'new.ts'], { cwd: repo.path });
      await git(['rm', '--quiet', 'gone.ts'], { cwd: repo.path });
      body[9] = 'export const v9 = 900;';
      await writeFile(join(repo.path, 'new.ts'), `${body.join('\n')}\n`);
      const head = await commit(repo.path, 'rename, modify one line, delete a file');
      const { added, files } = await readChangeSet({ kind: 'commits', gitDir: join(repo.path, '.git'), base, head });
      expect(files).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'renamed', path: 'new.ts', from: 'old.ts' })]));
      // Without rename detection all 30 lines would be "added", and patch coverage would be the file's.
      expect(added.map(({ file, line }) => ({ file, line }))).toEqual([{ file: 'new.ts', line: 10 }]);
    } finally {
      await repo.cleanup();
    }
  });
});

describe('patchCoverage', () => {
  const report = parseLcov(
    [
      'SF:/builds/acme/app/src/a.ts\nDA:1,1\nDA:2,0\nend_of_record',
      // A vendored copy of the same tree: a longer path that also ends with src/a.ts.
      'SF:/builds/acme/app/vendor/x/src/a.ts\nDA:1,0\nDA:2,0\nend_of_record',
      'SF:lib/b.py\nDA:5,3\nend_of_record',
      'SF:lib/totals.py\nLF:10\nLH:10\nend_of_record',
    ].join('\n'),
  );

  it('matches a CI checkout\'s absolute paths by their end, the shortest one first', () => {
    expect(patchCoverage(report, [{ file: 'src/a.ts', line: 1 }, { file: 'src/a.ts', line: 2 }])).toEqual({ coverable: 2, covered: 1 });
    expect(patchCoverage(report, [{ file: 'vendor/x/src/a.ts', line: 1 }])).toEqual({ coverable: 1, covered: 0 });
  });

  it('matches relative paths exactly, never by a suffix', () => {
    expect(patchCoverage(report, [{ file: 'lib/b.py', line: 5 }])).toEqual({ coverable: 1, covered: 1 });
    expect(patchCoverage(report, [{ file: 'pkg/lib/b.py', line: 5 }])).toEqual({ coverable: 0, covered: 0 });
  });

  it('cannot count a file the report knows by totals only, and is null for a report with no line data at all', () => {
    expect(report.lines.has('lib/totals.py')).toBe(false);
    expect(patchCoverage(report, [{ file: 'lib/totals.py', line: 1 }])).toEqual({ coverable: 0, covered: 0 });
    expect(patchCoverage(parseLcov('SF:a.ts\nLF:3\nLH:3\nend_of_record\n'), [{ file: 'a.ts', line: 1 }])).toBeNull();
    const rootTotals = parseCobertura('<coverage lines-valid="10" lines-covered="8"><packages/></coverage>');
    expect(rootTotals.percent).toBe(80);
    expect(patchCoverage(rootTotals, [{ file: 'a.ts', line: 1 }])).toBeNull();
  });

  it('merges Cobertura classes of one file by line, taking the highest hit count', () => {
    const xml = `<coverage><packages><package><classes>
<class filename="src/A.java"><lines><line number="1" hits="0"/><line number="2" hits="0"/></lines></class>
<class filename="src/A.java"><lines><line number="2" hits="4"/></lines></class>
</classes></package></packages></coverage>`;
    const lines = [1, 2].map((line) => ({ file: 'src/A.java', line }));
    expect(patchCoverage(parseCobertura(xml), lines)).toEqual({ coverable: 2, covered: 1 });
  });
});

describe('patchCoverageScore', () => {
  const of = (covered: number, coverable = 100) => ({ covered, coverable });

  it('is −1 untested, 0 at the project\'s coverage and +1 fully tested, linear in between', () => {
    expect(patchCoverageScore(of(0), 80)).toBe(-1);
    expect(patchCoverageScore(of(80), 80)).toBe(0);
    expect(patchCoverageScore(of(100), 80)).toBe(1);
    expect(patchCoverageScore(of(90), 80)).toBe(0.5); // 10 of the 20 points above 80
    expect(patchCoverageScore(of(60), 80)).toBe(-0.25); // 20 of the 80 points below
    expect(patchCoverageScore(of(2, 3), 50)).toBe(0.3333);
  });

  it('handles a project at 100% or at 0%', () => {
    expect(patchCoverageScore(of(100), 100)).toBe(1);
    expect(patchCoverageScore(of(50), 100)).toBe(-0.5);
    expect(patchCoverageScore(of(0), 0)).toBe(0);
    expect(patchCoverageScore(of(100), 0)).toBe(1);
  });

  it('is 0 with no coverable line, and refuses counts or percentages that cannot be', () => {
    expect(patchCoverageScore(of(0, 0), 80)).toBe(0);
    expect(patchPercent(of(0, 0))).toBeNull();
    expect(() => patchCoverageScore(of(5, 4), 80)).toThrow(/covered <= coverable, got 5 of 4/);
    expect(() => patchCoverageScore(of(1), 101)).toThrow(/projectPercent must be a percentage/);
    expect(() => patchCoverageScore(of(1), Number.NaN)).toThrow(RangeError);
  });
});
