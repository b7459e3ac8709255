import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decideGuards, defaultProtectedPaths, inspectChange } from '../../src/policy/guards.js';
import { addedLines, parseNameStatus, readChangeSet } from '../../src/workspace/changes.js';
import { git } from '../../src/workspace/git.js';
import { MirrorCache, mirrorKey } from '../../src/workspace/mirror.js';
import { commitTree, stageAll } from '../../src/workspace/publish.js';
import { createWorkspace, type Workspace } from '../../src/workspace/worktree.js';
import { createRemote, tempDir, type Remote } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
let remote: Remote;
let ws: Workspace;

const put = async (path: string, text: string) => {
  await mkdir(dirname(join(ws.path, path)), { recursive: true });
  await writeFile(join(ws.path, path), text);
};

beforeEach(async () => {
  dir = await tempDir('doom-changes-');
  remote = await createRemote(dir.path);
  await remote.commit({
    '.github/workflows/ci.yml': 'on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n',
    'src/cart.test.ts': "import { it } from 'vitest';\nit('adds', () => {});\n",
    'tests/test_tax.py': 'def test_tax():\n    assert True\n',
    'pyproject.toml': '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.coverage.run]\nbranch = true\n',
  });
  const mirrors = new MirrorCache({ root: join(dir.path, 'mirrors'), diskBudgetBytes: 1e12 });
  const key = mirrorKey('local', 'repo');
  ws = await createWorkspace({ mirror: await mirrors.ensure(key, remote.bare), lock: mirrors.lockFor(key), root: join(dir.path, 'ws'), branch: 'doom/1-x', base: 'main' });
});
afterEach(async () => {
  await ws.remove();
  await dir.cleanup();
});

describe('readChangeSet on a real worktree', () => {
  it('sees edits, additions, deletions, renames and added lines before anything is committed', async () => {
    await put('.github/workflows/ci.yml', 'on: push\njobs: {}\n');
    await put('src/cart.test.ts', "import { it } from 'vitest';\nit.skip('adds', () => {});\n");
    await rm(join(ws.path, 'tests/test_tax.py'));
    await mkdir(join(ws.path, 'docs'));
    await git(['mv', 'README.md', 'docs/README.md'], { cwd: ws.path });
    await put('src/index.ts', 'export const x = 1;\n// @ts-ignore\nexport const y: number = "2";\n');
    await put('pyproject.toml', '[project]\nname = "shop"\nversion = "1.1"\n\n[tool.coverage.run]\nbranch = true\n');
    const tree = await stageAll(ws);
    expect(tree).toMatch(/^[0-9a-f]{40}$/);

    const change = await readChangeSet({ kind: 'index', gitDir: ws.gitDir, workTree: ws.path, base: ws.baseSha });
    expect(change.files).toEqual(
      expect.arrayContaining([
        { status: 'modified', path: '.github/workflows/ci.yml' },
        { status: 'modified', path: 'src/cart.test.ts' },
        { status: 'deleted', path: 'tests/test_tax.py' },
        { status: 'renamed', from: 'README.md', path: 'docs/README.md' },
        { status: 'modified', path: 'src/index.ts' },
        { status: 'modified', path: 'pyproject.toml' },
      ]),
    );
    expect(change.added).toEqual(
      expect.arrayContaining([
        { file: 'src/cart.test.ts', line: 2, text: "it.skip('adds', () => {});" },
        { file: 'src/index.ts', line: 2, text: '// @ts-ignore' },
      ]),
    );
    const inspection = inspectChange(change, defaultProtectedPaths);
    // The version bump in pyproject.toml is not a [tool.*] change.
    expect(inspection.protectedFiles).toEqual(['.github/workflows/ci.yml']);
    expect(inspection.findings).toEqual([
      { kind: 'protected_path', file: '.github/workflows/ci.yml' },
      { kind: 'deleted_test', file: 'tests/test_tax.py' },
      { kind: 'skip_marker', file: 'src/cart.test.ts', line: 2, marker: '.skip(' },
    ]);
    expect(inspection.suppressions).toEqual([{ file: 'src/index.ts', line: 2, marker: '@ts-ignore' }]);
    expect(decideGuards(inspection, 'refuse')).toEqual({ kind: 'refuse', files: ['.github/workflows/ci.yml'] });

    // The executor reads the written tree, the evaluator the pushed commit: the same change.
    const fromTree = await readChangeSet({ kind: 'commits', gitDir: ws.mirror, base: ws.baseSha, head: tree! });
    expect(inspectChange(fromTree, defaultProtectedPaths)).toEqual(inspection);
    const sha = await commitTree(ws, tree!, { author: { name: 'bot', email: 'bot@example.com' }, message: 'x\n' });
    expect(await git(['--git-dir', ws.mirror, 'rev-parse', `refs/heads/${ws.branch}`])).toBe(sha);
    expect(await git(['--git-dir', ws.mirror, 'log', '-1', '--format=%an|%B', sha])).toBe('bot|x');
    const fromCommits = await readChangeSet({ kind: 'commits', gitDir: ws.mirror, base: ws.baseSha, head: sha });
    expect(inspectChange(fromCommits, defaultProtectedPaths)).toEqual(inspection);
  });

  it('reads added lines of a file .gitattributes marks binary', async () => {
    await put('.gitattributes', '*.ts -diff\n');
    await put('src/index.ts', 'export const x = 1; // eslint-disable-line\n');
    await stageAll(ws);
    const change = await readChangeSet({ kind: 'index', gitDir: ws.gitDir, workTree: ws.path, base: ws.baseSha });
    expect(inspectChange(change, []).suppressions).toEqual([{ file: 'src/index.ts', line: 1, marker: 'eslint-disable' }]);
  });

  it('counts a [tool.*] change in pyproject.toml and sees paths with spaces and unicode', async () => {
    await put('pyproject.toml', '[project]\nname = "shop"\nversion = "1.0"\n\n[tool.coverage.run]\nbranch = false\nomit = ["src/*"]\n');
    await put('.github/workflows/ré lease.yml', 'on: push\n');
    await stageAll(ws);
    const change = await readChangeSet({ kind: 'index', gitDir: ws.gitDir, workTree: ws.path, base: ws.baseSha });
    expect(inspectChange(change, defaultProtectedPaths).protectedFiles).toEqual(['.github/workflows/ré lease.yml', 'pyproject.toml']);
  });
});

describe('parsers', () => {
  it('parses name-status -z with renames and copies', () => {
    expect(parseNameStatus('M\0a.ts\0R087\0old.ts\0new.ts\0D\0gone.ts\0C100\0x\0y\0A\0n\0')).toEqual([
      { status: 'modified', path: 'a.ts' },
      { status: 'renamed', from: 'old.ts', path: 'new.ts' },
      { status: 'deleted', path: 'gone.ts' },
      { status: 'copied', from: 'x', path: 'y' },
      { status: 'added', path: 'n' },
    ]);
  });

  it('reads added lines and stops at the limit', () => {
    const diff = 'diff --git a/a.ts b/a.ts\n--- a/a.ts\n+++ b/a.ts\n@@ -1,0 +2,2 @@\n+one\n+two\n';
    expect(addedLines(diff)).toEqual([
      { file: 'a.ts', line: 2, text: 'one' },
      { file: 'a.ts', line: 3, text: 'two' },
    ]);
    expect(addedLines(diff, 1)).toHaveLength(1);
  });
});
