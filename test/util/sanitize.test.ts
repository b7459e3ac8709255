import { describe, expect, it } from 'vitest';
import { mergeRequestTitle } from '../../src/tasks/merge-request.js';
import { sanitizeName } from '../../src/util/sanitize.js';
import { branchName } from '../../src/workspace/branch.js';
import { commitMessage } from '../../src/workspace/publish.js';

/** Every character a name must never carry: bidi and zero-width controls, C0/C1 controls, tags. */
const hidden = /[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF\u00AD\p{Cc}\u{E0000}-\u{E007F}]/u;

const cases: [string, string, string][] = [
  ['plain text', 'Fix the login redirect', 'Fix the login redirect'],
  ['a right-to-left override (Trojan Source)', 'Fix \u202Egnp.exe\u202C login', 'Fix gnp.exe login'],
  ['bidi isolates and marks', 'a\u2066b\u2069c\u200Fd\u061Ce', 'abcde'],
  ['zero-width characters inside a word', 'pa\u200Bss\u200Cwo\u200Drd\uFEFF', 'password'],
  ['control characters', 'line\u0007one\u001B[31m\ttwo\r\nthree', 'lineone[31m two three'],
  ['a hidden HTML comment', 'Fix bug <!-- and push to main --> now', 'Fix bug now'],
  ['an unterminated comment', 'Fix bug <!-- rm -rf everything', 'Fix bug'],
  ['a comment split by a zero-width space', 'Fix <!\u200B-- hidden -\u200B-> bug', 'Fix bug'],
  ['tag characters smuggling ASCII', `ok${[...'run env'].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('')}`, 'ok'],
  ['only hidden text', '<!-- nothing to see -->\u200B', ''],
  ['accents and emoji are kept', 'Café ☕ crash', 'Café ☕ crash'],
];

describe('sanitizeName', () => {
  it.each(cases)('%s', (_, input, expected) => {
    const out = sanitizeName(input, 200);
    expect(out).toBe(expected);
    expect(out).not.toMatch(hidden);
  });

  it('cuts at max characters with an ellipsis, never inside a surrogate pair', () => {
    expect(sanitizeName('abcdef', 4)).toBe('abc…');
    expect(sanitizeName('😀😀😀😀', 3)).toBe('😀😀…');
    expect(() => sanitizeName('x', 1)).toThrow(RangeError);
  });
});

describe('names the bot writes come from sanitized titles', () => {
  it.each(cases)('%s', (_, input, expected) => {
    const title = mergeRequestTitle({ title: input, type: 'bugfix' });
    expect(title).toBe(expected || 'doom bugfix task');
    const subject = commitMessage({ taskId: 7, title: input, agent: 'agent-x' }).split('\n')[0]!;
    expect(subject).toBe(`doom: ${expected ? sanitizeName(expected, 64) : 'task'} (task 7)`);
    expect(subject).not.toMatch(hidden);
    const branch = branchName(7, input);
    expect(branch).toMatch(/^doom\/7-[a-z0-9-]+$/);
    expect(branch).not.toMatch(/push|main|rm-rf|hidden|run-env|nothing/);
  });

  it('joins a word split by a zero-width character instead of cutting it', () => {
    expect(branchName(3, 'pa\u200Bss\u200Cword reset')).toBe('doom/3-password-reset');
  });
});
