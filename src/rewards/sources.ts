/**
 * The changed files of a task's head commit against its target branch, read from the
 * repository's cached mirror: what the complexity signal measures, what decides which lint
 * and security findings are the change's own, and (the change's added and modified lines,
 * `change.added`) what patch coverage counts (signals/patch.ts says why git and not the
 * forge's diff API).
 */
import type { ChangeSet } from '../policy/guards.js';
import { readChangeSet } from '../workspace/changes.js';
import type { GitCredential } from '../workspace/git.js';
import { git } from '../workspace/git.js';
import { mirrorKey, type MirrorCache } from '../workspace/mirror.js';
import { languageOf } from './signals/complexity.js';

export interface ChangedSources {
  files: string[];
  changedLines: number;
  /** Source of each changed file the complexity analyzer reads, before and after (null: absent). */
  before: Record<string, string | null>;
  after: Record<string, string | null>;
  /** The change as the reward-hacking guards read it (the same reading the executor made before pushing). */
  change: ChangeSet;
}

const MAX_FILES = 200;
const MAX_BYTES = 512 * 1024;

async function show(mirror: string, rev: string, path: string): Promise<string | null> {
  try {
    const size = Number(await git(['--git-dir', mirror, 'cat-file', '-s', `${rev}:${path}`]));
    if (size > MAX_BYTES) return null;
    return await git(['--git-dir', mirror, 'show', `${rev}:${path}`]);
  } catch {
    return null;
  }
}

export async function changedSources(
  mirrors: MirrorCache,
  repo: { forge: string; fullName: string; cloneUrl: string; targetBranch: string },
  headSha: string,
  credential: GitCredential,
): Promise<ChangedSources> {
  const mirror = await mirrors.ensure(mirrorKey(repo.forge, repo.fullName), repo.cloneUrl, credential);
  const base = await git(['--git-dir', mirror, 'merge-base', `refs/remotes/origin/${repo.targetBranch}`, headSha]);
  const numstat = await git(['--git-dir', mirror, 'diff', '--numstat', '--no-renames', base, headSha]);
  const files: string[] = [];
  let changedLines = 0;
  for (const line of numstat.split('\n').filter(Boolean)) {
    const [added, deleted, path] = line.split('\t');
    if (!path) continue;
    files.push(path);
    changedLines += (Number(added) || 0) + (Number(deleted) || 0);
  }
  const before: Record<string, string | null> = {};
  const after: Record<string, string | null> = {};
  for (const path of files.filter((f) => languageOf(f) !== null).slice(0, MAX_FILES)) {
    before[path] = await show(mirror, base, path);
    after[path] = await show(mirror, headSha, path);
  }
  const change = await readChangeSet({ kind: 'commits', gitDir: mirror, base, head: headSha });
  return { files, changedLines, before, after, change };
}
