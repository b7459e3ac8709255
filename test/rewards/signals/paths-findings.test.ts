import { describe, expect, it } from 'vitest';
import { newFindings, type MatchableFinding } from '../../../src/rewards/signals/index.js';
import { normalizeChangedFiles, relativeToRoot, toPosixPath } from '../../../src/rewards/signals/paths.js';

describe('report path normalization', () => {
  it('turns OS paths and file URIs into POSIX paths', () => {
    expect(toPosixPath('src\\a\\..\\b.ts')).toBe('src/b.ts');
    expect(toPosixPath('./src//b.ts')).toBe('src/b.ts');
    expect(toPosixPath('c:\\Repo\\x.ts')).toBe('C:/Repo/x.ts');
    expect(toPosixPath('file:///home/ci/my%20repo/a.ts')).toBe('/home/ci/my repo/a.ts');
    expect(toPosixPath('file:///C:/ci/repo/a.ts')).toBe('C:/ci/repo/a.ts');
    expect(toPosixPath('file://localhost/srv/a.ts')).toBe('/srv/a.ts');
    expect(toPosixPath('file://server/share/a.ts')).toBe('//server/share/a.ts');
    expect(toPosixPath('\\\\server\\share\\a.ts')).toBe('//server/share/a.ts');
    expect(toPosixPath('file:///bad%zz.ts')).toBe('/bad%zz.ts');
  });

  it('makes paths relative to the root and leaves the ones outside it recognizably outside', () => {
    expect(relativeToRoot('/builds/g/p/src/a.ts', '/builds/g/p')).toBe('src/a.ts');
    expect(relativeToRoot('/builds/g/p/src/a.ts', '/builds/g/p/')).toBe('src/a.ts');
    expect(relativeToRoot('/builds/g/project-two/a.ts', '/builds/g/p')).toBe('/builds/g/project-two/a.ts');
    expect(relativeToRoot('/builds/g/p2/a.ts', '/builds/g/p')).toBe('/builds/g/p2/a.ts');
    expect(relativeToRoot('../outside/a.ts', '/builds/g/p')).toBe('../outside/a.ts');
    expect(relativeToRoot('src/../../x.ts', '/r')).toBe('../x.ts');
    expect(relativeToRoot('src/a.ts', '/r')).toBe('src/a.ts');
    expect(relativeToRoot('C:\\CI\\Repo\\src\\a.ts', 'c:/ci/repo')).toBe('src/a.ts');
    expect(relativeToRoot('C:\\CI\\Repo', 'c:/ci/repo')).toBe('');
    expect(relativeToRoot('/r/a.ts', '/')).toBe('r/a.ts');
    // A POSIX root compares case-sensitively, as Linux does.
    expect(relativeToRoot('/R/a.ts', '/r')).toBe('/R/a.ts');
  });

  it('normalizes changed files from the forge the same way', () => {
    expect([...normalizeChangedFiles(['./src/a.ts', 'src\\b.ts', ''])]).toEqual(['src/a.ts', 'src/b.ts']);
  });
});

describe('newFindings', () => {
  const f = (file: string, line: number, rule: string, message: string, fingerprint?: string): MatchableFinding =>
    fingerprint === undefined ? { file, line, rule, message } : { file, line, rule, message, fingerprint };

  it('counts per (file, rule, message), not per line', () => {
    const base = [f('a.ts', 10, 'r', 'm'), f('a.ts', 20, 'r', 'm')];
    const head = [f('a.ts', 12, 'r', 'm'), f('a.ts', 22, 'r', 'm'), f('a.ts', 40, 'r', 'm'), f('a.ts', 41, 'r', 'other')];
    expect(newFindings(head, base, ['a.ts']).map((x) => x.line)).toEqual([40, 41]);
  });

  it('prefers to inherit a head finding on the same line as a base one', () => {
    const base = [f('a.ts', 30, 'r', 'm')];
    const head = [f('a.ts', 5, 'r', 'm'), f('a.ts', 30, 'r', 'm')];
    expect(newFindings(head, base, ['a.ts']).map((x) => x.line)).toEqual([5]);
  });

  it('does not count a fixed finding against a new one of another rule or file', () => {
    const base = [f('a.ts', 1, 'r1', 'm'), f('b.ts', 1, 'r2', 'm')];
    const head = [f('a.ts', 1, 'r2', 'm')];
    expect(newFindings(head, base, ['a.ts', 'b.ts'])).toEqual(head);
  });

  it('falls back to messages when some findings lack fingerprints', () => {
    const base = [f('a.ts', 1, 'r', 'm')];
    const head = [f('a.ts', 9, 'r', 'm', 'fp-1')];
    expect(newFindings(head, base, ['a.ts'])).toEqual([]);
    expect(newFindings(head, [f('a.ts', 1, 'r', 'm', 'fp-0')], ['a.ts'])).toEqual(head);
  });

  it('matches changed files given with Windows separators or ./', () => {
    const head = [f('src/a.ts', 1, 'r', 'm')];
    expect(newFindings(head, [], ['.\\src\\a.ts'])).toEqual(head);
    expect(newFindings([], [], ['src/a.ts'])).toEqual([]);
  });
});
