import { describe, expect, it } from 'vitest';
import {
  decideGuards,
  defaultProtectedPaths,
  inspectChange,
  protectedMatcher,
  protectedPatterns,
  type ChangeSet,
  type FileChange,
} from '../../src/policy/guards.js';

const modified = (path: string): FileChange => ({ status: 'modified', path });
const change = (files: FileChange[], added: ChangeSet['added'] = [], pyproject?: ChangeSet['pyproject']): ChangeSet => ({ files, added, pyproject });

describe('protected paths', () => {
  const isProtected = protectedMatcher(defaultProtectedPaths);
  it.each([
    ['.github/workflows/ci.yml', true],
    ['.github/workflows/nested/deploy.yaml', true],
    ['.GitHub/Workflows/ci.yml', true],
    ['.github/CODEOWNERS', false],
    ['.gitlab-ci.yml', true],
    ['.gitlab/ci/test.yml', true],
    ['codecov.yml', true],
    ['.codecov.yml', true],
    ['.eslintrc', true],
    ['.eslintrc.json', true],
    ['packages/web/.eslintrc.cjs', true],
    ['eslint.config.mjs', true],
    ['vitest.config.ts', true],
    ['jest.config.js', true],
    ['.nycrc.json', true],
    ['pytest.ini', true],
    ['setup.cfg', true],
    ['tox.ini', true],
    ['pyproject.toml', true],
    ['.claude/doom-rlvr.toml', true],
    ['.claude/settings.json', true],
    ['.doom/agents/x.yml', true],
    ['config/doom-rlvr.toml', true],
    ['src/eslint.ts', false],
    ['src/index.ts', false],
    ['README.md', false],
    ['docs/vitest.md', false],
  ])('%s → %s', (path, expected) => {
    expect(isProtected(path)).toBe(expected);
  });

  it('adds a repository\'s own patterns to the configured ones', () => {
    const policy = { protected_paths: ['.gitlab-ci.yml'], repositories: { 'acme/shop': { protected_paths: ['scripts/ci/**', '.gitlab-ci.yml'] } } };
    expect(protectedPatterns(policy, 'acme/shop')).toEqual(['.gitlab-ci.yml', 'scripts/ci/**']);
    expect(protectedPatterns(policy, 'acme/other')).toEqual(['.gitlab-ci.yml']);
    expect(protectedMatcher([])('anything')).toBe(false);
  });
});

describe('inspectChange', () => {
  it.each<[string, ChangeSet, string[]]>([
    ['an edited workflow', change([modified('.github/workflows/ci.yml'), modified('src/a.ts')]), ['.github/workflows/ci.yml']],
    ['a deleted lint config', change([{ status: 'deleted', path: '.eslintrc.json' }]), ['.eslintrc.json']],
    ['a workflow renamed away', change([{ status: 'renamed', from: '.github/workflows/ci.yml', path: 'old/ci.yml' }]), ['.github/workflows/ci.yml']],
    ['a file renamed into the workflows', change([{ status: 'renamed', from: 'ci.yml', path: '.github/workflows/ci.yml' }]), ['.github/workflows/ci.yml']],
    ['a new coverage config', change([{ status: 'added', path: 'codecov.yml' }]), ['codecov.yml']],
    ['source only', change([modified('src/a.ts'), { status: 'added', path: 'src/b.ts' }]), []],
  ])('%s', (_, input, files) => {
    expect(inspectChange(input, defaultProtectedPaths).protectedFiles).toEqual(files);
  });

  describe('pyproject.toml: only its [tool.*] sections', () => {
    const before = '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.pytest.ini_options]\naddopts = "--cov"\n';
    const cases: [string, string | null, boolean][] = [
      ['a version bump', before.replace('1.0', '1.1'), false],
      ['a changed [tool.pytest] option', before.replace('--cov', '--no-cov'), true],
      ['a new [tool.coverage] section', `${before}\n[tool.coverage.run]\nomit = ["src/*"]\n`, true],
      ['an unparseable file', `${before}\n[tool\n`, true],
      ['the file deleted', null, true],
    ];
    it.each(cases)('%s → protected: %s', (_, after, expected) => {
      const c = change([after === null ? { status: 'deleted', path: 'pyproject.toml' } : modified('pyproject.toml')], [], {
        'pyproject.toml': { before, after },
      });
      expect(inspectChange(c, defaultProtectedPaths).protectedFiles).toEqual(expected ? ['pyproject.toml'] : []);
    });
    it('counts the whole file when its contents were not read', () => {
      expect(inspectChange(change([modified('pyproject.toml')]), defaultProtectedPaths).protectedFiles).toEqual(['pyproject.toml']);
    });
  });

  it.each<[string, FileChange, boolean]>([
    ['a deleted *.test.ts', { status: 'deleted', path: 'src/cart.test.ts' }, true],
    ['a deleted file under test/', { status: 'deleted', path: 'test/cart.ts' }, true],
    ['a deleted __tests__ file', { status: 'deleted', path: 'src/__tests__/cart.js' }, true],
    ['a deleted test_*.py', { status: 'deleted', path: 'tests/test_cart.py' }, true],
    ['a deleted *_test.go', { status: 'deleted', path: 'cart/cart_test.go' }, true],
    ['a deleted JUnit test', { status: 'deleted', path: 'src/test/java/CartTest.java' }, true],
    ['a test renamed to a name no runner picks up', { status: 'renamed', from: 'src/cart.test.ts', path: 'src/cart.ts.bak' }, true],
    ['a test moved to another test name', { status: 'renamed', from: 'src/cart.test.ts', path: 'test/cart.test.ts' }, false],
    ['a deleted source file', { status: 'deleted', path: 'src/cart.ts' }, false],
  ])('deleted tests: %s', (_, file, flagged) => {
    const { findings } = inspectChange(change([file]), []);
    expect(findings.some((f) => f.kind === 'deleted_test')).toBe(flagged);
  });

  it.each<[string, string | null]>([
    ["  it.skip('adds tax', () => {", '.skip('],
    ['  describe.skip("cart", () => {', '.skip('],
    ['  test.skipIf(process.env.CI)("slow", () => {', '.skip('],
    ['  it.concurrent.skip("x", () => {})', '.skip('],
    // Joined, so that this line of test data is not itself taken for a focused test by the
    // checks that grep for one.
    [['  it', "only('the one that passes', () => {"].join('.'), '.only('],
    ["  it.todo('adds tax')", '.todo('],
    ["  xit('adds tax', () => {", 'xit('],
    ["xdescribe('cart', () => {", 'xit('],
    ['@pytest.mark.skip(reason="flaky")', '@pytest.mark.skip'],
    ['@pytest.mark.skipif(True, reason="x")', '@pytest.mark.skip'],
    ['@pytest.mark.xfail', '@pytest.mark.skip'],
    ['    pytest.skip("later")', 'pytest.skip('],
    ['@unittest.skip("broken")', '@unittest.skip'],
    ['        self.skipTest("nope")', 'skipTest('],
    ['\tt.Skip("flaky on CI")', 't.Skip('],
    ['\tt.Skipf("x %d", 1)', 't.Skip('],
    ['  @Disabled', '@Disabled'],
    ['#[ignore]', '#[ignore]'],
    ['const rest = items.skip(1);', null],
    ['const exit = () => {}; exit();', null],
    ['// we skip(these) later', null],
    ['expect(cart.total()).toBe(12);', null],
  ])('skip markers: %s', (text, marker) => {
    const { findings } = inspectChange(change([modified('src/cart.test.ts')], [{ file: 'src/cart.test.ts', line: 4, text }]), []);
    expect(findings).toEqual(marker ? [{ kind: 'skip_marker', file: 'src/cart.test.ts', line: 4, marker }] : []);
  });

  it.each<[string, string | null]>([
    ['// eslint-disable-next-line no-console', 'eslint-disable'],
    ['/* eslint-disable */', 'eslint-disable'],
    ['const x = y as any; // eslint-disable-line', 'eslint-disable'],
    ['// @ts-ignore', '@ts-ignore'],
    ['// @ts-expect-error wrong types upstream', '@ts-expect-error'],
    ['// @ts-nocheck', '@ts-nocheck'],
    ['import os  # noqa: F401', '# noqa'],
    ['x = f()  # NOQA', '# noqa'],
    ['y = g()  # type: ignore[arg-type]', '# type: ignore'],
    ['subprocess.call(cmd, shell=True)  # nosec B602', 'nosec'],
    ['exec.Command(x) // #nosec G204', 'nosec'],
    ['int x = (int)p; // NOLINT', 'NOLINT'],
    ['// NOLINTNEXTLINE(bugprone-*)', 'NOLINT'],
    ['# pylint: disable=broad-except', 'pylint: disable'],
    ['/* istanbul ignore next */', 'coverage ignore'],
    ['/* c8 ignore start */', 'coverage ignore'],
    ['if x:  # pragma: no cover', 'coverage ignore'],
    ['const noqa = "not a comment marker";', null],
    ['const ignore = true;', null],
  ])('suppressions: %s', (text, marker) => {
    const { suppressions, findings } = inspectChange(change([modified('src/a.ts')], [{ file: 'src/a.ts', line: 9, text }]), []);
    expect(suppressions).toEqual(marker ? [{ file: 'src/a.ts', line: 9, marker }] : []);
    expect(findings).toEqual([]);
  });
});

describe('decideGuards', () => {
  const workflow = inspectChange(change([modified('.github/workflows/ci.yml')]), defaultProtectedPaths);
  const skipped = inspectChange(change([modified('a.test.ts')], [{ file: 'a.test.ts', line: 1, text: 'it.skip("x", () => {})' }]), defaultProtectedPaths);
  const clean = inspectChange(change([modified('src/a.ts')], [{ file: 'src/a.ts', line: 1, text: '// @ts-ignore' }]), defaultProtectedPaths);

  it.each([
    ['a protected path, refuse', workflow, 'refuse', { kind: 'refuse', files: ['.github/workflows/ci.yml'] }],
    ['a protected path, flag', workflow, 'flag', { kind: 'flag', findings: [{ kind: 'protected_path', file: '.github/workflows/ci.yml' }] }],
    ['a skip marker is flagged even under refuse', skipped, 'refuse', { kind: 'flag', findings: [{ kind: 'skip_marker', file: 'a.test.ts', line: 1, marker: '.skip(' }] }],
    ['suppressions alone are lint findings, not a guard', clean, 'refuse', { kind: 'clean' }],
  ] as const)('%s', (_, inspection, mode, expected) => {
    expect(decideGuards(inspection, mode)).toEqual(expected);
  });
});

describe('[policy] config', () => {
  it('ships the defaults, refuse by default, and takes a repository\'s additions', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseConfigText } = await import('../../src/config/load.js');
    const shipped = parseConfigText(readFileSync(new URL('../../config/doom-rlvr.toml', import.meta.url), 'utf8'), 'doom-rlvr.toml');
    expect(shipped.policy.protected_paths).toEqual(defaultProtectedPaths);
    expect(shipped.policy.on_protected_change).toBe('refuse');
    const parsed = parseConfigText('[policy]\non_protected_change = "flag"\n[policy.repositories."acme/shop"]\nprotected_paths = ["ci/**"]\n', 'x.toml');
    expect(parsed.policy.protected_paths).toEqual(defaultProtectedPaths);
    expect(protectedPatterns(parsed.policy, 'acme/shop')).toContain('ci/**');
    expect(() => parseConfigText('[policy]\non_protected_change = "ignore"\n', 'x.toml')).toThrow(/policy\.on_protected_change/);
  });
});
