/**
 * Runs of one repository share its mirror. Each fetch, worktree add, worktree remove/prune and
 * garbage collection changes the mirror's shared state (refs, packs, `worktrees/`), and git
 * does not make those steps safe against each other: a fetch that reads every worktree's HEAD
 * while another run adds one fails with `bad object worktrees/…/HEAD`. This drives them all at
 * once, from two caches on one root (two bot processes sharing a volume), with real git.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../../src/workspace/git.js';
import { MirrorCache, mirrorKey } from '../../src/workspace/mirror.js';
import { createWorkspace } from '../../src/workspace/worktree.js';
import { createRemote, tempDir, type Remote } from './helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
let remote: Remote;

beforeEach(async () => {
  dir = await tempDir('doom-ws-race-');
  remote = await createRemote(dir.path);
});
afterEach(() => dir.cleanup());

const WORKERS = 5;
const ROUNDS = 6; // 5 × 6 × (fetch, worktree add, worktree remove) + 10 gc = 100 mirror operations

describe('one repository, many runs at once', () => {
  it('fetches, adds and removes worktrees concurrently without one failing', { timeout: 120_000 }, async () => {
    const key = mirrorKey('local', 'repo');
    const caches = [0, 1].map(() => new MirrorCache({ root: join(dir.path, 'mirrors'), diskBudgetBytes: 1e12 }));
    await caches[0]!.ensure(key, remote.bare);

    const failures: string[] = [];
    let pushing = true;
    const pusher = async () => {
      // The default branch keeps moving, so every fetch has objects to bring in.
      for (let n = 0; pushing; n++) await remote.commit({ [`moving/${n}.txt`]: `${n}\n` });
    };
    const worker = async (w: number) => {
      const mirrors = caches[w % caches.length]!;
      for (let round = 0; round < ROUNDS; round++) {
        try {
          const mirror = await mirrors.ensure(key, remote.bare);
          const ws = await createWorkspace({ mirror, lock: mirrors.lockFor(key), root: join(dir.path, 'ws'), branch: `doom/${w}-race`, base: 'main' });
          await ws.remove();
          // A full gc now and then, the heaviest step on a shared mirror, under the same lock.
          if (round % 3 === w % 3) await mirrors.exclusive(key, () => git(['--git-dir', mirror, 'gc', '--quiet']));
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
    };
    const moving = pusher();
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    pushing = false;
    await moving;

    expect(failures).toEqual([]);
  });
});
