/**
 * Workspace preparation: a fresh clone versus the Nth workspace from a warm mirror cache
 * (fetch + `git worktree add`) for a repository of a few thousand files. Target: the Nth at
 * most a tenth of a fresh clone.
 *
 * The fresh clone uses `--no-local` over file://, so git packs and transfers objects as it would
 * over the network instead of hardlinking them; it still has no network latency or bandwidth
 * limit, so the ratio here is a conservative (pessimistic) stand-in for a clone from a forge.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { diskUsage, MirrorCache } from '../src/workspace/mirror.js';
import { git } from '../src/workspace/git.js';
import { createWorkspace } from '../src/workspace/worktree.js';

const FILES = 3000;
const COMMITS = 4;
const FRESH_RUNS = 5;
const NTH_RUNS = 10;
const TARGET = 0.1;
const identity = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.com' };

/** Deterministic source-like text, different per file and per revision (so it does not delta to nothing). */
function content(i: number, rev: number): string {
  let seed = (i * 2654435761 + rev * 40503) >>> 0;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  const lines = [`// file ${i}, revision ${rev}`, `export const id${i} = ${i};`];
  const n = 20 + (next() % 60);
  for (let l = 0; l < n; l++) lines.push(`export function f${i}_${l}(x: number): number { return x * ${next() % 1000} + ${next() % 97}; }`);
  return `${lines.join('\n')}\n`;
}

const pathOf = (i: number) => `packages/p${i % 10}/src/m${Math.floor(i / 10) % 10}/d${Math.floor(i / 100) % 6}/file${i}.ts`;

async function buildRepository(dir: string): Promise<string> {
  const work = join(dir, 'seed');
  const bare = join(dir, 'remote.git');
  await git(['init', '--quiet', '--initial-branch=main', work]);
  for (let rev = 0; rev < COMMITS; rev++) {
    // The first commit writes every file; later ones change a tenth of them.
    for (let i = 0; i < FILES; i++) {
      if (rev > 0 && i % 10 !== rev) continue;
      const file = join(work, pathOf(i));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content(i, rev));
    }
    await git(['add', '--all'], { cwd: work });
    await git(['commit', '--quiet', '-m', `revision ${rev}`], { cwd: work, env: identity });
  }
  await git(['clone', '--quiet', '--bare', work, bare]);
  // A forge serves from packs with bitmaps, not from loose objects; without this the fresh
  // clone would pay for compressing every object and look slower than it is.
  await git(['--git-dir', bare, 'repack', '-a', '-d', '-q', '--write-bitmap-index']);
  return work;
}

async function pushSmallChange(work: string, bare: string, n: number): Promise<void> {
  await writeFile(join(work, 'CHANGELOG.md'), `change ${n}\n`);
  await git(['add', '--all'], { cwd: work });
  await git(['commit', '--quiet', '-m', `change ${n}`], { cwd: work, env: identity });
  await git(['push', '--quiet', bare, 'HEAD:refs/heads/main'], { cwd: work });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (x: number) => `${x.toFixed(1).padStart(8)} ms`;

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'doom-bench-ws-'));
  try {
    const work = await buildRepository(dir);
    const bare = join(dir, 'remote.git');
    const size = await diskUsage(bare);

    const fresh: number[] = [];
    for (let r = -1; r < FRESH_RUNS; r++) {
      const target = join(dir, `clone-${r}`);
      const t0 = performance.now();
      await git(['clone', '--quiet', '--no-local', pathToFileURL(bare).href, target]);
      if (r >= 0) fresh.push(performance.now() - t0); // r = -1 warms the page cache, like the Nth side's warm-up
      await rm(target, { recursive: true, force: true });
    }

    const cache = new MirrorCache({ root: join(dir, 'mirrors'), diskBudgetBytes: 10 * 1024 ** 3 });
    const key = 'bench-repo';
    const first = await createWorkspace({ mirror: await cache.ensure(key, bare), root: join(dir, 'ws'), branch: 'doom/0-warmup', base: 'main' });
    await first.remove();
    const nth: number[] = [];
    const fetches: number[] = [];
    const checkouts: number[] = [];
    for (let r = 1; r <= NTH_RUNS; r++) {
      await pushSmallChange(work, bare, r); // the default branch moves between runs, as it does in life
      const t0 = performance.now();
      const mirror = await cache.ensure(key, bare);
      const t1 = performance.now();
      const ws = await createWorkspace({ mirror, root: join(dir, 'ws'), branch: `doom/${r}-bench`, base: 'main' });
      const t2 = performance.now();
      nth.push(t2 - t0);
      fetches.push(t1 - t0);
      checkouts.push(t2 - t1);
      await ws.remove();
    }

    const ratio = mean(nth) / mean(fresh);
    const rows = [
      `workspace preparation: ${FILES} files, ${COMMITS + NTH_RUNS} commits, remote ${(size / 1024 ** 2).toFixed(1)} MiB packed`,
      `  fresh clone (--no-local, file://)    ${ms(mean(fresh))}  avg of ${FRESH_RUNS}   min ${ms(Math.min(...fresh)).trim()}`,
      `  Nth workspace (ensure + worktree)    ${ms(mean(nth))}  avg of ${NTH_RUNS}  min ${ms(Math.min(...nth)).trim()}`,
      `    of which ensure (lock + fetch)     ${ms(mean(fetches))}`,
      `    of which worktree add (checkout)   ${ms(mean(checkouts))}`,
      `  ratio Nth / fresh                    ${ratio.toFixed(3).padStart(8)}     target <= ${TARGET.toFixed(2)}  ${ratio <= TARGET ? 'OK' : 'MISSED'}`,
    ];
    if (ratio > TARGET) {
      rows.push(
        `  (both sides check out all ${FILES} files; over file:// there is no network transfer, so that shared`,
        `   checkout dominates the fresh clone too. Against a forge, transfer dominates the fresh clone.)`,
      );
    }
    console.log(rows.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
