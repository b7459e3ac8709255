import { describe, expect, it } from 'vitest';
import { branchName, nextBranchName, slugify } from '../../src/workspace/branch.js';
import { git } from '../../src/workspace/git.js';

const odd = [
  'Fix login redirect loop',
  'Ünïcödé title: Café crème',
  '🔥🔥 emoji only 🚀',
  '🔥🚀',
  '',
  '   ',
  '..',
  '../../etc/passwd',
  'release.lock',
  'foo.lock.lock',
  'a/b/c//d',
  '/leading/slash/',
  '.hidden',
  'ends with dot.',
  'refs/heads/main',
  '@{upstream}',
  'HEAD',
  '-starts-with-dash',
  'back\\slash and ~tilde^caret:colon?star*[bracket]',
  'tabs\tand\nnewlines\u0000nul\u007fdel',
  '中文标题',
  'Ελληνικά',
  'ﬁ ligature and ① circled and Ｆｕｌｌｗｉｄｔｈ',
  'x'.repeat(300),
  'a-very-long-title-that-keeps-going-and-going-beyond-forty-characters',
  'word '.repeat(30),
  '----many---dashes----',
  'UPPER case MiXeD 123',
];

describe('branchName', () => {
  it('builds doom/<id>-<slug>', () => {
    expect(branchName(42, 'Fix login redirect loop')).toBe('doom/42-fix-login-redirect-loop');
    expect(branchName(7, 'Café crème: ÉTÉ')).toBe('doom/7-cafe-creme-ete');
    expect(branchName(1, '🔥🚀')).toBe('doom/1-task');
    expect(branchName('T-9', 'x')).toBe('doom/t-9-x');
  });

  it('is deterministic', () => {
    expect(branchName(3, 'Same title')).toBe(branchName(3, 'Same title'));
  });

  it.each(odd)('is a valid, short, lowercase ascii ref for %j', async (title) => {
    const name = branchName(123, title);
    expect(name).toMatch(/^doom\/123-[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(name.length).toBeLessThanOrEqual('doom/123-'.length + 40);
    await expect(git(['check-ref-format', '--branch', name])).resolves.toBe(name);
    await expect(git(['check-ref-format', `refs/heads/${name}`])).resolves.toBe('');
  });

  it('cuts long titles on a word boundary when one is near', () => {
    expect(slugify('a-very-long-title-that-keeps-going-and-going-beyond-forty-characters')).toBe('a-very-long-title-that-keeps-going-and');
    expect(slugify('x'.repeat(300))).toBe('x'.repeat(40));
    expect(slugify('word '.repeat(30)).endsWith('-')).toBe(false);
  });

  it('rejects unusable task ids', () => {
    expect(() => branchName(-1, 'x')).toThrow(RangeError);
    expect(() => branchName(1.5, 'x')).toThrow(RangeError);
    expect(() => branchName('🔥', 'x')).toThrow(RangeError);
  });
});

describe('branch rounds', () => {
  it('names the next merge request branch after the ones used, skipping a taken name', () => {
    expect(branchName(7, 'Fix login', 1)).toBe('doom/7-fix-login');
    expect(branchName(7, 'Fix login', 2)).toBe('doom/7-fix-login-2');
    expect(() => branchName(7, 'Fix login', 0)).toThrow(RangeError);
    expect(nextBranchName(7, 'Fix login', ['doom/7-fix-login'])).toBe('doom/7-fix-login-2');
    expect(nextBranchName(7, 'Fix login', ['doom/7-fix-login', 'doom/7-fix-login-2'])).toBe('doom/7-fix-login-3');
    // Retitled: round two's name was already taken by another title's first round.
    expect(nextBranchName(7, 'Fix login', ['doom/7-fix-login-2'])).toBe('doom/7-fix-login-3');
  });
});
