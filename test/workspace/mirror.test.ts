import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../../src/workspace/git.js';
import { MirrorCache, mirrorKey, readMirrorMarker, type MirrorEvent } from '../../src/workspace/mirror.js';
import { createWorkspace } from '../../src/workspace/worktree.js';
import { createRemote, tempDir, type Remote } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
let remote: Remote;
let events: MirrorEvent[];

const cache = (extra: Partial<ConstructorParameters<typeof MirrorCache>[0]> = {}) =>
  new MirrorCache({ root: join(dir.path, 'mirrors'), diskBudgetBytes: 1e12, onEvent: (e) => events.push(e), ...extra });

beforeEach(async () => {
  dir = await tempDir();
  remote = await createRemote(dir.path);
  events = [];
});
afterEach(() => dir.cleanup());

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

describe('mirrorKey', () => {
  it('is readable, filesystem-safe, case-insensitive and collision-free', () => {
    const k = mirrorKey('github.com', 'Octo/Repo');
    expect(k).toMatch(/^github-com-octo-repo-[0-9a-f]{12}$/);
    expect(mirrorKey('github.com', 'octo/repo')).toBe(k);
    expect(mirrorKey('gitlab.com', 'octo/repo')).not.toBe(k);
    expect(mirrorKey('github.com', 'a-b/c')).not.toBe(mirrorKey('github.com', 'a/b-c'));
    expect(mirrorKey('x', '../../..')).toMatch(/^x-[0-9a-f]{12}$/);
  });
});

describe('MirrorCache.ensure', () => {
  it('clones once, then fetches new commits into the same mirror', async () => {
    const mirrors = cache();
    const key = mirrorKey('local', 'repo');
    const path = await mirrors.ensure(key, remote.bare);
    const before = { ino: (await stat(path)).ino, marker: await readMirrorMarker(path) };
    expect(await git(['--git-dir', path, 'config', '--get', 'core.bare'])).toBe('true');

    const sha = await remote.commit({ 'new.txt': 'new\n' });
    await remote.commit({ 'side.txt': 'x' }, 'side', 'feature');
    expect(await mirrors.ensure(key, remote.bare)).toBe(path);

    expect((await stat(path)).ino).toBe(before.ino);
    expect(await readMirrorMarker(path)).toEqual(before.marker);
    expect(await git(['--git-dir', path, 'rev-parse', 'refs/remotes/origin/main'])).toBe(sha);
    expect(await git(['--git-dir', path, 'rev-parse', '--verify', 'refs/remotes/origin/feature'])).toMatch(/^[0-9a-f]{40}$/);
    expect(events.map((e) => e.type)).toEqual(['clone', 'fetch']);
  });

  it('prunes branches deleted on the remote but keeps local run branches', async () => {
    const mirrors = cache();
    const key = mirrorKey('local', 'repo');
    await remote.commit({ 'side.txt': 'x' }, 'side', 'gone');
    const path = await mirrors.ensure(key, remote.bare);
    await git(['--git-dir', path, 'branch', 'doom/1-local', 'refs/remotes/origin/main']);
    await git(['--git-dir', remote.bare, 'branch', '-D', 'gone']);
    await mirrors.ensure(key, remote.bare);
    await expect(git(['--git-dir', path, 'rev-parse', '--verify', 'refs/remotes/origin/gone'])).rejects.toThrow();
    expect(await git(['--git-dir', path, 'rev-parse', '--verify', 'refs/heads/doom/1-local'])).toMatch(/^[0-9a-f]{40}$/);
  });

  it('clones once when two runs of the same repository start together', async () => {
    const a = cache();
    const b = cache(); // a second cache object on the same root stands in for another process
    const key = mirrorKey('local', 'repo');
    const paths = await Promise.all([a.ensure(key, remote.bare), a.ensure(key, remote.bare), b.ensure(key, remote.bare)]);
    expect(new Set(paths).size).toBe(1);
    expect(events.filter((e) => e.type === 'clone')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'fetch')).toHaveLength(2);
  });

  it('switches automatic gc off in the mirror, so only the locked fetch collects garbage', async () => {
    const mirrors = cache();
    const key = mirrorKey('local', 'repo');
    const path = await mirrors.ensure(key, remote.bare);
    expect(await git(['--git-dir', path, 'config', '--get', 'gc.auto'])).toBe('0');
    // A mirror made before the setting existed gets it at its next fetch.
    await git(['--git-dir', path, 'config', '--unset', 'gc.auto']);
    await remote.commit({ 'more.txt': 'more\n' });
    await mirrors.ensure(key, remote.bare);
    expect(await git(['--git-dir', path, 'config', '--get', 'gc.auto'])).toBe('0');
  });

  it('holds one lock per mirror across caches: a step waits for the other cache\'s step', async () => {
    const a = cache();
    const b = cache();
    const key = mirrorKey('local', 'repo');
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = a.exclusive(key, async () => {
      order.push('a start');
      await held;
      order.push('a end');
    });
    await waitUntil(() => order.length === 1);
    const second = b.exclusive(key, async () => void order.push('b'));
    await new Promise((r) => setTimeout(r, 200)); // b polls the lock file meanwhile
    expect(order).toEqual(['a start']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a start', 'a end', 'b']);
  });

  it('refuses a clone URL with a credential and odd keys', async () => {
    const mirrors = cache();
    await expect(mirrors.ensure('ok-key', 'https://u:hunter2@example.com/r.git')).rejects.toThrow(/carries a credential/);
    await expect(mirrors.ensure('../escape', remote.bare)).rejects.toThrow(/invalid mirror key/);
  });

  it('leaves nothing behind when the clone fails', async () => {
    const mirrors = cache();
    await expect(mirrors.ensure('missing', join(dir.path, 'nope.git'))).rejects.toThrow();
    expect(await mirrors.usage()).toEqual([]);
    await expect(stat(mirrors.pathOf('missing'))).rejects.toThrow();
  });

  it('gives up on a forge that never answers after networkTimeoutMs, leaving nothing behind', async () => {
    // Accepts the connection and says nothing: a hung forge, or a proxy that lost it.
    const server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const mirrors = cache({ networkTimeoutMs: 300 });
      await expect(mirrors.ensure('hung', `http://127.0.0.1:${port}/hung.git`)).rejects.toThrow(/was killed/);
      expect(await mirrors.usage()).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('MirrorCache.evict', () => {
  async function threeMirrors() {
    const mirrors = cache({ evictGraceMs: 0 });
    const remotes = [remote, await createRemote(dir.path, 'two'), await createRemote(dir.path, 'three')];
    const keys = ['one', 'two', 'three'];
    for (const [i, key] of keys.entries()) {
      const path = await mirrors.ensure(key, remotes[i]!.bare);
      // Make the order of last use unambiguous: one oldest, three newest.
      const t = new Date(Date.now() - (3 - i) * 60_000);
      await utimes(join(path, 'doom-last-used'), t, t);
    }
    const usage = await mirrors.usage();
    return { mirrors, keys, total: usage.reduce((s, u) => s + u.bytes, 0), biggest: Math.max(...usage.map((u) => u.bytes)) };
  }

  it('does nothing under budget', async () => {
    const { mirrors } = await threeMirrors();
    expect(await mirrors.evict()).toEqual([]);
    expect(await mirrors.usage()).toHaveLength(3);
  });

  it('removes least recently used mirrors until the cache fits', async () => {
    const { keys, total, biggest } = await threeMirrors();
    const mirrors = cache({ evictGraceMs: 0, diskBudgetBytes: total - 1 });
    expect(await mirrors.evict()).toEqual(['one']);
    const tight = cache({ evictGraceMs: 0, diskBudgetBytes: biggest });
    expect(await tight.evict()).toEqual(['two']);
    expect((await tight.usage()).map((u) => u.key)).toEqual([keys[2]]);
    expect(events.filter((e) => e.type === 'evict').map((e) => e.key)).toEqual(['one', 'two']);
  });

  it('keeps a mirror with a live worktree, and one used within the grace period', async () => {
    await threeMirrors();
    const mirrors = cache({ evictGraceMs: 0, diskBudgetBytes: 0 });
    const ws = await createWorkspace({ mirror: mirrors.pathOf('one'), lock: mirrors.lockFor('one'), root: join(dir.path, 'ws'), branch: 'doom/1-x', base: 'main' });
    expect(await mirrors.evict()).toEqual(['two', 'three']);
    expect((await mirrors.usage()).map((u) => u.key)).toEqual(['one']);
    await ws.remove();
    expect(await mirrors.evict()).toEqual(['one']);

    const graceful = cache({ diskBudgetBytes: 0 }); // default grace: just ensured means about to be used
    await graceful.ensure('fresh', remote.bare);
    expect(await graceful.evict()).toEqual([]);
  });

  it('skips a mirror whose lock another process holds', async () => {
    await threeMirrors();
    const mirrors = cache({ evictGraceMs: 0, diskBudgetBytes: 0 });
    await writeFile(join(mirrors.root, 'one.lock'), JSON.stringify({ pid: process.pid, host: 'elsewhere', token: 't' }));
    expect(await mirrors.evict()).toEqual(['two', 'three']);
  });
});
