/**
 * An agent's change as the guards read it (policy/guards.ts): the files it added, changed,
 * deleted or renamed, the lines it added, and the pyproject.toml files on both sides. Read
 * with git from either the index of a worktree (before the bot commits) or two commits of a
 * mirror (when the evaluator scores the pushed head), so both see the same change.
 *
 * The diff is taken as text whatever `.gitattributes` says (`-a`, no textconv, no external
 * diff driver): a file the agent marks binary must not hide the lines it added.
 */
import parseDiff from 'parse-diff';
import type { AddedLine, ChangeSet, FileChange } from '../policy/guards.js';
import { git } from './git.js';

/** Where to read the change: a worktree's index against its base, or two revisions of a bare repository. */
export type ChangeSource =
  | { kind: 'index'; gitDir: string; workTree: string; base: string }
  | { kind: 'commits'; gitDir: string; base: string; head: string };

/** Lines added past this many are not inspected (a generated file, a vendored library). */
const MAX_ADDED_LINES = 50_000;

const statusOf: Record<string, FileChange['status']> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  R: 'renamed',
  C: 'copied',
  T: 'type-changed',
};

/** `git diff --name-status -z` output: `S\0path\0` or, for renames and copies, `Rnn\0from\0to\0`. */
export function parseNameStatus(raw: string): FileChange[] {
  const parts = raw.split('\0');
  const out: FileChange[] = [];
  for (let i = 0; i < parts.length; ) {
    const code = parts[i++];
    if (!code) continue;
    const status = statusOf[code[0]!] ?? 'modified';
    if (status === 'renamed' || status === 'copied') {
      const from = parts[i++]!;
      const path = parts[i++]!;
      out.push({ status, path, from });
    } else {
      out.push({ status, path: parts[i++]! });
    }
  }
  return out;
}

/** The added lines of a unified diff (`git diff -U0`), by file and new line number. */
export function addedLines(diff: string, limit = MAX_ADDED_LINES): AddedLine[] {
  const out: AddedLine[] = [];
  for (const file of parseDiff(diff)) {
    if (file.deleted || !file.to || file.to === '/dev/null') continue;
    for (const chunk of file.chunks) {
      for (const change of chunk.changes) {
        if (change.type !== 'add') continue;
        out.push({ file: file.to, line: change.ln, text: change.content.slice(1) });
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}

export async function readChangeSet(source: ChangeSource): Promise<ChangeSet> {
  const env: Record<string, string> = source.kind === 'index' ? { GIT_DIR: source.gitDir, GIT_WORK_TREE: source.workTree } : {};
  const run = (args: string[]) =>
    git(source.kind === 'index' ? ['-c', 'core.quotePath=false', ...args] : ['--git-dir', source.gitDir, '-c', 'core.quotePath=false', ...args], {
      cwd: source.kind === 'index' ? source.workTree : undefined,
      env,
    });
  const range = source.kind === 'index' ? ['--cached', source.base] : [source.base, source.head];
  const common = ['diff', '--no-color', '--no-ext-diff', '--no-textconv', '-M'];
  const files = parseNameStatus(await run([...common, '--name-status', '-z', ...range]));
  const diff = await run([...common, '-a', '-U0', ...range]);
  const pyproject: NonNullable<ChangeSet['pyproject']> = {};
  const show = (rev: string, path: string) => run(['show', `${rev}:${path}`]).catch(() => null);
  const after = source.kind === 'index' ? '' : source.head; // `:path` is the index
  for (const f of files) {
    for (const path of [f.path, f.from]) {
      if (path === undefined || !/(?:^|\/)pyproject\.toml$/i.test(path) || pyproject[path]) continue;
      pyproject[path] = { before: await show(source.base, path), after: await show(after, path) };
    }
  }
  return { files, added: addedLines(diff), pyproject };
}
