/**
 * Test helpers: a temp git repository with one commit and a worktree of it (the shape the
 * bot prepares for an agent), and a /proc scan for processes still running in a directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Workspace {
  /** The worktree the agent works in (a real path, no symlinks). */
  workdir: string;
  /** A scratch HOME for the agent. */
  home: string;
  git(...args: string[]): string;
  cleanup(): void;
}

const gitIdentity = ['-c', 'user.name=doom-test', '-c', 'user.email=doom-test@example.invalid', '-c', 'commit.gpgsign=false'];

export const makeWorkspace = (files: Record<string, string> = { 'README.md': '# demo\n' }): Workspace => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'doom-ws-')));
  const repo = join(root, 'repo');
  const workdir = join(root, 'worktree');
  const home = join(root, 'home');
  execFileSync('mkdir', ['-p', repo, home]);
  const git = (cwd: string, ...args: string[]): string =>
    execFileSync('git', [...gitIdentity, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  git(repo, 'init', '-q', '-b', 'main');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'initial');
  git(repo, 'worktree', 'add', '-q', '-b', 'doom/1-test', workdir);
  return {
    workdir,
    home,
    git: (...args) => git(workdir, ...args),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
};

/** Pids of processes whose current directory is `dir` or below it (Linux /proc). */
export const processesIn = (dir: string): number[] => {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(Number(name));
    } catch {
      // Gone, or not ours to look at.
    }
  }
  return found;
};

/** Polls `check` until it is true (bounded by the test's own timeout, never by a clock assertion). */
export const waitFor = async (check: () => boolean, everyMs = 50): Promise<void> => {
  while (!check()) await new Promise((r) => setTimeout(r, everyMs));
};
