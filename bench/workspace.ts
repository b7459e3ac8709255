/**
 * Workspace preparation: a fresh clone versus the Nth workspace from a warm mirror cache
 * (fetch + `git worktree add`) for a repository of a few thousand files. Target: the Nth at
 * most a tenth of a fresh clone.
 *
 * Both sides talk to the remote the way the bot talks to a forge: git's smart HTTP protocol
 * (`git http-backend` behind a local HTTP server), with the credential in a header. There is
 * no network latency or bandwidth limit on 127.0.0.1, so the ratio is a conservative stand-in
 * for a clone from a forge. Fresh clones and Nth workspaces alternate, so both see the disk
 * in the same state (creating thousands of files right after deleting thousands is slower).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { diskUsage, MirrorCache } from '../src/workspace/mirror.js';
import { git } from '../src/workspace/git.js';
import { createWorkspace } from '../src/workspace/worktree.js';
import { startGitHttpServer } from '../test/workspace/helpers.js';

const FILES = 3000;
const COMMITS = 4;
const RUNS = 8;
const credential = { username: 'oauth2', password: 'bench-token' };
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

    const server = await startGitHttpServer(dir, credential);
    const url = `${server.url}/remote.git`;
    const fresh: number[] = [];
    const cache = new MirrorCache({ root: join(dir, 'mirrors'), diskBudgetBytes: 10 * 1024 ** 3 });
    const key = 'bench-repo';
    const nth: number[] = [];
    const fetches: number[] = [];
    const checkouts: number[] = [];
    try {
      // Warm-up, untimed: the page cache for the fresh side, the mirror for the Nth side.
      await git(['clone', '--quiet', url, join(dir, 'clone-warmup')], { credential });
      await rm(join(dir, 'clone-warmup'), { recursive: true, force: true });
      const first = await createWorkspace({ mirror: await cache.ensure(key, url, credential), lock: cache.lockFor(key), root: join(dir, 'ws'), branch: 'doom/0-warmup', base: 'main' });
      await first.remove();

      for (let r = 1; r <= RUNS; r++) {
        await pushSmallChange(work, bare, r); // the default branch moves between runs, as it does in life
        const target = join(dir, `clone-${r}`);
        const t = performance.now();
        await git(['clone', '--quiet', url, target], { credential });
        fresh.push(performance.now() - t);
        await rm(target, { recursive: true, force: true });

        const t0 = performance.now();
        const mirror = await cache.ensure(key, url, credential);
        const t1 = performance.now();
        const ws = await createWorkspace({ mirror, lock: cache.lockFor(key), root: join(dir, 'ws'), branch: `doom/${r}-bench`, base: 'main' });
        const t2 = performance.now();
        nth.push(t2 - t0);
        fetches.push(t1 - t0);
        checkouts.push(t2 - t1);
        await ws.remove();
      }
    } finally {
      await server.close();
    }

    const ratio = mean(nth) / mean(fresh);
    const rows = [
      `workspace preparation: ${FILES} files, ${COMMITS + RUNS} commits, remote ${(size / 1024 ** 2).toFixed(1)} MiB packed, served over smart HTTP on 127.0.0.1`,
      `  fresh clone (smart HTTP)             ${ms(mean(fresh))}  avg of ${RUNS}   min ${ms(Math.min(...fresh)).trim()}`,
      `  Nth workspace (ensure + worktree)    ${ms(mean(nth))}  avg of ${RUNS}   min ${ms(Math.min(...nth)).trim()}`,
      `    of which ensure (lock + fetch)     ${ms(mean(fetches))}`,
      `    of which worktree add (checkout)   ${ms(mean(checkouts))}`,
      `  ratio Nth / fresh                    ${ratio.toFixed(3).padStart(8)}     target <= ${TARGET.toFixed(2)}  ${ratio <= TARGET ? 'OK' : 'MISSED'}`,
    ];
    if (ratio > TARGET) {
      rows.push(
        `  (both sides check out all ${FILES} files; on 127.0.0.1 the transfer a clone makes is nearly free, so`,
        `   that shared checkout dominates the fresh clone too. Against a forge, transfer dominates it.)`,
      );
    }
    console.log(rows.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
