import { describe, expect, it } from 'vitest';
import { ciLogExcerpt, cleanLog, firstErrorLine } from '../../src/tasks/ci-log.js';

const ESC = String.fromCharCode(0x1b);

describe('cleanLog', () => {
  it('drops what a terminal draws: colours, GitLab sections, redraws, GitHub timestamps, control characters', () => {
    const raw = [
      `section_start:1700000000:step_script\r${ESC}[0K${ESC}[32;1mExecuting "step_script"${ESC}[0;m`,
      '2026-11-21T10:00:00.1234567Z npm test',
      'progress 10%\rprogress 50%\rprogress 100%',
      `bell\u0007 and nul\u0000 gone\ttab kept`,
      `${ESC}]8;;https://x.example${ESC}\\link${ESC}]8;;${ESC}\\`,
    ].join('\r\n');
    expect(cleanLog(raw)).toEqual(['Executing "step_script"', 'npm test', 'progress 100%', 'bell and nul gone\ttab kept', 'link']);
  });
});

describe('firstErrorLine', () => {
  it.each([
    [['ok', 'src/a.ts(3,1): error TS2322: nope', 'Error: later'], 1],
    [['ok', 'FAIL test/a.test.ts', 'x'], 1],
    [['Tests: 0 failed, 3 passed', 'npm ERR! code 1'], 1],
    [['Traceback (most recent call last):'], 0],
    [['--fail-fast enabled', 'all good'], null],
  ])('%j → %s', (lines, expected) => {
    expect(firstErrorLine(lines)).toBe(expected);
  });
});

describe('ciLogExcerpt', () => {
  const log = (n: number, errorAt: number | null) =>
    Array.from({ length: n }, (_, i) => (i === errorAt ? 'AssertionError: expected 1 to be 2' : `line ${i} ${'.'.repeat(40)}`)).join('\n');

  it('keeps a short log whole', () => {
    const e = ciLogExcerpt('a\nError: b\nc\n\n', 1_000);
    expect(e).toEqual({ text: 'a\nError: b\nc', firstError: 2, lines: 3 });
  });

  it('keeps the lines around the first error and the tail, within the cap', () => {
    const e = ciLogExcerpt(log(5_000, 1_000), 6_000);
    expect(e.text.length).toBeLessThanOrEqual(6_000);
    expect(e.firstError).toBe(1_001);
    expect(e.text).toContain('[lines 991-');
    expect(e.text).toContain('line 990 ');
    expect(e.text).toContain('AssertionError: expected 1 to be 2');
    expect(e.text).toContain('line 1030 ');
    expect(e.text).not.toContain('line 1200 ');
    expect(e.text).toMatch(/\[\.\.\. \d+ lines left out \.\.\.\]/);
    expect(e.text).toContain('line 4999 ');
  });

  it('with no recognisable error, keeps the tail only', () => {
    const e = ciLogExcerpt(log(5_000, null), 3_000);
    expect(e.firstError).toBeNull();
    expect(e.text.length).toBeLessThanOrEqual(3_000);
    expect(e.text.startsWith('[... the first ')).toBe(true);
    expect(e.text).toContain('line 4999 ');
  });

  it('an error inside the tail is shown once, in the tail', () => {
    const e = ciLogExcerpt(log(5_000, 4_990), 3_000);
    expect(e.text.match(/AssertionError/g)).toHaveLength(1);
    expect(e.text).not.toContain('around the first error');
  });

  it('cuts a single huge line to the cap instead of dropping it', () => {
    const e = ciLogExcerpt(`start\n${'x'.repeat(50_000)}`, 2_000);
    expect(e.text.length).toBeLessThanOrEqual(2_000);
    expect(e.text).toContain('xxxx');
  });
});
