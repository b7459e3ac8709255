import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { branchName } from '../../src/workspace/branch.js';
import { git, GitError } from '../../src/workspace/git.js';
import { MirrorCache, mirrorKey } from '../../src/workspace/mirror.js';
import { commitAll, commitMessage, push } from '../../src/workspace/publish.js';
import { createWorkspace, type Workspace } from '../../src/workspace/worktree.js';
import { createRemote, filesContaining, startGitHttpServer, tempDir, type Remote } from './helpers.js';

const bot = { name: 'doom-rlvr[bot]', email: 'bot@doom.example' };
let dir: { path: string; cleanup: () => Promise<void> };
let remote: Remote;
let mirrors: MirrorCache;
const key = mirrorKey('local', 'repo');
const branch = branchName(42, 'Fix the thing');

const open = async (): Promise<Workspace> =>
  createWorkspace({ mirror: await mirrors.ensure(key, remote.bare), lock: mirrors.lockFor(key), root: join(dir.path, 'ws'), branch, base: 'main' });

beforeEach(async () => {
  dir = await tempDir();
  remote = await createRemote(dir.path);
  mirrors = new MirrorCache({ root: join(dir.path, 'mirrors'), diskBudgetBytes: 1e12 });
});
afterEach(() => dir.cleanup());

describe('createWorkspace', () => {
  it('checks out the run branch from the tip of the default branch', async () => {
    const tip = await remote.commit({ 'src/index.ts': 'export const x = 2;\n' });
    const ws = await open();
    expect(ws.branch).toBe('doom/42-fix-the-thing');
    expect(ws.baseSha).toBe(tip);
    expect(await git(['symbolic-ref', 'HEAD'], { cwd: ws.path })).toBe(`refs/heads/${branch}`);
    expect(await git(['rev-parse', 'HEAD'], { cwd: ws.path })).toBe(tip);
    expect(await readFile(join(ws.path, 'src/index.ts'), 'utf8')).toBe('export const x = 2;\n');
    expect(await git(['status', '--porcelain'], { cwd: ws.path })).toBe('');
    expect(ws.gitDir.startsWith(ws.mirror)).toBe(true);
    expect((await readFile(join(ws.path, '.git'), 'utf8')).trim()).toBe(`gitdir: ${ws.gitDir}`);
    await ws.remove();
  });

  it('rejects an unknown base', async () => {
    const mirror = await mirrors.ensure(key, remote.bare);
    await expect(createWorkspace({ mirror, lock: mirrors.lockFor(key), root: join(dir.path, 'ws'), branch, base: 'nope' })).rejects.toThrow(/nope/);
  });

  it('remove() leaves no directory, no worktree entry and no local branch; twice is fine', async () => {
    const ws = await open();
    await writeFile(join(ws.path, 'untracked.txt'), 'x');
    await ws.remove();
    await ws.remove();
    await expect(stat(ws.path)).rejects.toThrow();
    const list = await git(['--git-dir', ws.mirror, 'worktree', 'list', '--porcelain']);
    expect(list).not.toContain(ws.path);
    await expect(stat(join(ws.mirror, 'worktrees'))).rejects.toThrow();
    await expect(git(['--git-dir', ws.mirror, 'rev-parse', '--verify', `refs/heads/${branch}`])).rejects.toThrow();
  });

  it('recovers when a crashed run left its worktree registered', async () => {
    const first = await open();
    await rm(first.path, { recursive: true, force: true }); // crash: directory gone, entry stays
    const second = await open();
    expect(await git(['symbolic-ref', 'HEAD'], { cwd: second.path })).toBe(`refs/heads/${branch}`);
    await second.remove();
  });
});

describe('commitAll', () => {
  it('returns null when the agent changed nothing', async () => {
    const ws = await open();
    expect(await commitAll(ws, { author: bot, message: 'm' })).toBeNull();
    expect(await git(['rev-parse', 'HEAD'], { cwd: ws.path })).toBe(ws.baseSha);
    await ws.remove();
  });

  it('commits every change (new, modified, deleted) as the bot', async () => {
    const ws = await open();
    await writeFile(join(ws.path, 'src/index.ts'), 'export const x = 3;\n');
    await mkdir(join(ws.path, 'src/new'), { recursive: true });
    await writeFile(join(ws.path, 'src/new/file.ts'), 'new\n');
    await rm(join(ws.path, 'README.md'));
    const message = commitMessage({ taskId: 42, title: 'Fix the thing', agent: 'claude-code/sonnet' });
    const sha = await commitAll(ws, { author: bot, message });
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const show = (fmt: string) => git(['show', '-s', `--format=${fmt}`, sha!], { cwd: ws.path });
    expect(await show('%an <%ae>|%cn <%ce>')).toBe(`${bot.name} <${bot.email}>|${bot.name} <${bot.email}>`);
    expect(await show('%P')).toBe(ws.baseSha);
    expect(await show('%B')).toContain('Doom-Agent: claude-code/sonnet');
    const changed = await git(['diff', '--name-status', ws.baseSha, sha!], { cwd: ws.path });
    expect(changed.split('\n').sort()).toEqual(['A\tsrc/new/file.ts', 'D\tREADME.md', 'M\tsrc/index.ts']);
    await ws.remove();
  });

  it("folds the agent's own commits into one bot commit, and ignores a hijacked .git pointer", async () => {
    const ws = await open();
    await writeFile(join(ws.path, 'a.txt'), 'a\n');
    await git(['add', 'a.txt'], { cwd: ws.path });
    await git(['commit', '-q', '-m', 'agent commit'], { cwd: ws.path, env: { GIT_AUTHOR_NAME: 'agent', GIT_AUTHOR_EMAIL: 'a@a', GIT_COMMITTER_NAME: 'agent', GIT_COMMITTER_EMAIL: 'a@a' } });
    await git(['checkout', '-q', '-b', 'elsewhere'], { cwd: ws.path });
    await writeFile(join(ws.path, 'b.txt'), 'b\n');
    // The agent points .git at a repository of its own with a hook that would run as the bot.
    const evil = join(dir.path, 'evil');
    await git(['init', '-q', evil]);
    await mkdir(join(evil, '.git', 'hooks'), { recursive: true });
    await writeFile(join(evil, '.git', 'hooks', 'pre-commit'), `#!/bin/sh\ntouch ${join(dir.path, 'pwned')}\n`, { mode: 0o755 });
    await writeFile(join(ws.path, '.git'), `gitdir: ${join(evil, '.git')}\n`);

    const sha = await commitAll(ws, { author: bot, message: 'task 42' });
    await expect(stat(join(dir.path, 'pwned'))).rejects.toThrow();
    const log = await git(['--git-dir', ws.mirror, 'log', '--format=%an %s', `${ws.baseSha}..refs/heads/${branch}`]);
    expect(log).toBe(`${bot.name} task 42`);
    const files = await git(['--git-dir', ws.mirror, 'diff', '--name-only', ws.baseSha, sha!]);
    expect(files.split('\n').sort()).toEqual(['a.txt', 'b.txt']);
    await ws.remove();
  });
});

describe('push', () => {
  it('lands the branch in the remote, and a retry of the same task rewrites it', async () => {
    const ws = await open();
    await writeFile(join(ws.path, 'fix.txt'), 'first try\n');
    await commitAll(ws, { author: bot, message: 'try 1' });
    await push(ws, { remoteUrl: remote.bare });
    expect(await remote.show(`${branch}:fix.txt`)).toBe('first try');
    await ws.remove();

    await remote.commit({ 'other.txt': 'main moved\n' });
    const retry = await open();
    expect(await git(['rev-parse', 'HEAD'], { cwd: retry.path })).toBe(retry.baseSha);
    await expect(stat(join(retry.path, 'fix.txt'))).rejects.toThrow(); // starts over from main
    await writeFile(join(retry.path, 'fix.txt'), 'second try\n');
    const sha = await commitAll(retry, { author: bot, message: 'try 2' });
    await push(retry, { remoteUrl: remote.bare });
    expect(await git(['--git-dir', remote.bare, 'rev-parse', `refs/heads/${branch}`])).toBe(sha);
    expect(await remote.show(`${branch}:fix.txt`)).toBe('second try');
    expect(await remote.show(`${branch}:other.txt`)).toBe('main moved');

    // A second push in the same run (after a repair) leases against what it just pushed.
    await writeFile(join(retry.path, 'fix.txt'), 'repaired\n');
    await commitAll(retry, { author: bot, message: 'try 2, repaired' });
    await push(retry, { remoteUrl: remote.bare });
    expect(await remote.show(`${branch}:fix.txt`)).toBe('repaired');
    await retry.remove();
  });

  it('refuses to clobber a commit someone pushed to the branch during the run', async () => {
    const ws = await open();
    await remote.commit({ 'human.txt': 'reviewer fixup\n' }, 'fixup', branch);
    await writeFile(join(ws.path, 'fix.txt'), 'bot\n');
    await commitAll(ws, { author: bot, message: 'bot' });
    await expect(push(ws, { remoteUrl: remote.bare })).rejects.toBeInstanceOf(GitError);
    expect(await remote.show(`${branch}:human.txt`)).toBe('reviewer fixup');
    await ws.remove();
  });

  it('refuses a remote URL with a credential in it', async () => {
    const ws = await open();
    await expect(push(ws, { remoteUrl: 'https://u:hunter2@example.com/r.git' })).rejects.toThrow(/carries a credential/);
    await ws.remove();
  });
});

describe('credential over smart HTTP (git http-backend)', () => {
  const credential = { username: 'x-access-token', password: 'ghs_Top5ecretInstallationToken' };
  const needles = [credential.password, Buffer.from(`${credential.username}:${credential.password}`).toString('base64')];

  it('clones, fetches and pushes with the header, and stores the credential nowhere', async () => {
    const server = await startGitHttpServer(dir.path, credential);
    try {
      const url = `${server.url}/repo.git`;
      await expect(mirrors.ensure(key, url)).rejects.toBeInstanceOf(GitError); // no credential: 401
      expect(await mirrors.usage()).toEqual([]);

      const mirror = await mirrors.ensure(key, url, credential);
      await remote.commit({ 'later.txt': 'later\n' });
      await mirrors.ensure(key, url, credential);
      const ws = await createWorkspace({ mirror, lock: mirrors.lockFor(key), root: join(dir.path, 'ws'), branch, base: 'main' });
      expect(await readFile(join(ws.path, 'later.txt'), 'utf8')).toBe('later\n');
      await writeFile(join(ws.path, 'fix.txt'), 'over http\n');
      await commitAll(ws, { author: bot, message: 'http' });
      await push(ws, { remoteUrl: url, credential });
      expect(await remote.show(`${branch}:fix.txt`)).toBe('over http');

      const wanted = `Basic ${needles[1]}`;
      expect(server.authorizations.filter((a) => a === wanted).length).toBeGreaterThanOrEqual(3);
      expect(await filesContaining(join(dir.path, 'mirrors'), needles)).toEqual([]);
      expect(await filesContaining(join(dir.path, 'ws'), needles)).toEqual([]);
      expect(await git(['--git-dir', mirror, 'config', '--list', '--local'])).not.toMatch(/extraheader|ghs_/i);

      // A failing command with the credential does not leak it either.
      const error = await git(['--git-dir', mirror, 'fetch', `${server.url}/missing.git`], { credential }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitError);
      for (const n of needles) expect((error as GitError).message).not.toContain(n);
      await ws.remove();
    } finally {
      await server.close();
    }
  });
});

describe('tampering', () => {
  it('refuses to fetch or push through a mirror whose config was changed', async () => {
    const ws = await open();
    await writeFile(join(ws.path, 'fix.txt'), 'x\n');
    await commitAll(ws, { author: bot, message: 'x' });
    await git(['--git-dir', ws.mirror, 'config', 'url.https://evil.example/.insteadOf', remote.bare]);
    await expect(push(ws, { remoteUrl: remote.bare })).rejects.toThrow(/unexpected config \(url\.https:\/\/evil\.example\/\.insteadof\)/);
    await expect(mirrors.ensure(key, remote.bare)).rejects.toThrow(/unexpected config/);
    await expect(commitAll(ws, { author: bot, message: 'x' })).rejects.toThrow(/unexpected config/);
    await ws.remove();
  });

  it('refuses to commit when the worktree git dir was pointed at another repository', async () => {
    const ws = await open();
    const evil = join(dir.path, 'evil.git');
    await git(['init', '-q', '--bare', evil]);
    await writeFile(join(ws.gitDir, 'commondir'), `${evil}\n`);
    await expect(commitAll(ws, { author: bot, message: 'x' })).rejects.toThrow(/no longer belongs/);
    await writeFile(join(ws.gitDir, 'commondir'), '../..\n');
    await ws.remove();
  });
});
