/**
 * Routing, two figures (`npm run bench -- routing`):
 *
 * (a) The simulator (bench/routing-sim.ts): cumulative regret over 2,000 tasks against the best
 *     specialist for each type, for the project's policy (its own route() and tier rules),
 *     random, the seed's plain rule and an oracle, on fixed seeds, in four scenarios; with P0
 *     waits and agents of true mean ≥ 0 that rewards suspended. Targets: regret ≤ 0.75 × plain
 *     and ≤ 0.4 × random, nobody of true mean ≥ 0 suspended, a bounded P0 wait.
 * (b) Decision latency at 10,000 agents and 1,000,000 settled rewards, on a SQLite file: the
 *     routing book's load, one `catchUp` after a new outcome, then `route()` per decision from
 *     the book (p50/p99), and one pass over 100 pending tasks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import SQLite from 'better-sqlite3';
import { parseConfigText } from '../src/config/load.js';
import type { Priority, TaskType } from '../src/config/schema.js';
import { RoutingBook } from '../src/routing/book.js';
import { seededRandom } from '../src/routing/posterior.js';
import { policyFrom, route } from '../src/routing/router.js';
import { openStore } from '../src/store/db.js';
import { scenarios, simulate, STEP_MS, type PolicyName, type SimResult } from './routing-sim.js';

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const TASKS = 2_000;
const POLICIES: PolicyName[] = ['project', 'random', 'plain', 'oracle'];

const AGENTS = 10_000;
const TASK_ROWS = 100_000;
const REWARDS = 1_000_000;
const DECISIONS = 2_000;
const TYPES: TaskType[] = ['bugfix', 'feature', 'refactor', 'security'];

const f0 = (n: number) => n.toFixed(0);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Summary {
  regret: number;
  p0Mean: number;
  p0Max: number;
  unassigned: number;
  wrong: Set<string>;
  taken: Map<string, Record<TaskType, number>>;
  tierChanges: Map<string, number>;
}

function summarize(results: SimResult[]): Summary {
  const s: Summary = { regret: 0, p0Mean: 0, p0Max: 0, unassigned: 0, wrong: new Set(), taken: new Map(), tierChanges: new Map() };
  for (const r of results) {
    s.regret += r.regret / results.length;
    s.p0Mean += r.p0Wait.mean / results.length;
    s.p0Max = Math.max(s.p0Max, r.p0Wait.max);
    s.unassigned += r.unassigned / results.length;
    r.wronglySuspended.forEach((w) => s.wrong.add(w));
    for (const [name, t] of r.taken) {
      const acc = s.taken.get(name) ?? { bugfix: 0, feature: 0, refactor: 0, security: 0 };
      for (const k of TYPES) acc[k] += t[k] / results.length;
      s.taken.set(name, acc);
    }
    for (const [name, n] of r.tierChanges) s.tierChanges.set(name, (s.tierChanges.get(name) ?? 0) + n / results.length);
  }
  return s;
}

function simulator(): boolean {
  console.log(`(a) simulator: 12 agents, ${TASKS} tasks (P0/P1/P2 10/30/60%), seeds ${SEEDS[0]}–${SEEDS.at(-1)}, one task per ${STEP_MS / 60_000} min`);
  console.log('    regret is cumulative, against the best specialist for the type (mean over seeds); P0 wait in steps\n');
  console.log(`${'scenario'.padEnd(27)} ${POLICIES.map((p) => p.padStart(8)).join(' ')}   ×plain  ×random  P0 wait mean/max  unassigned  suspended (true mean ≥ 0)`);
  let ok = true;
  for (const sc of scenarios) {
    const sums = new Map(POLICIES.map((p) => [p, summarize(SEEDS.map((seed) => simulate(sc, p, seed, TASKS)))]));
    const project = sums.get('project')!;
    const vsPlain = project.regret / sums.get('plain')!.regret;
    const vsRandom = project.regret / sums.get('random')!.regret;
    if (vsPlain > 0.75 || vsRandom > 0.4 || project.wrong.size > 0 || project.unassigned > 0) ok = false;
    console.log(
      `${sc.name.padEnd(27)} ${POLICIES.map((p) => f0(sums.get(p)!.regret).padStart(8)).join(' ')}   ${vsPlain.toFixed(2).padStart(6)}  ${vsRandom.toFixed(2).padStart(7)}  ` +
        `${`${project.p0Mean.toFixed(1)}/${project.p0Max}`.padStart(16)}  ${project.unassigned.toFixed(1).padStart(10)}  ${[...project.wrong].join(', ') || 'none'}` +
        `   (plain: P0 ${sums.get('plain')!.p0Mean.toFixed(1)}/${sums.get('plain')!.p0Max}, ${sums.get('plain')!.unassigned.toFixed(1)} unassigned, suspended ${[...sums.get('plain')!.wrong].join(', ') || 'none'})`,
    );
    if (sc.name === 'per-type specialist') {
      const p = project.taken.get('bugfix-specialist')!;
      const q = sums.get('plain')!.taken.get('bugfix-specialist')!;
      console.log(`${''.padEnd(27)} bugfix tasks to the bugfix specialist: project ${f0(p.bugfix)}, plain ${f0(q.bugfix)} (of about ${f0(TASKS / 4)})`);
      console.log(`${''.padEnd(27)} tier changes of the true principal: project ${project.tierChanges.get('principal')!.toFixed(1)}, plain ${sums.get('plain')!.tierChanges.get('principal')!.toFixed(1)}`);
    }
    if (sc.name === 'flaky agent') {
      const p = project.taken.get('flaky')!;
      const q = sums.get('plain')!.taken.get('flaky')!;
      const total = (t: Record<TaskType, number>) => TYPES.reduce((s, k) => s + t[k], 0);
      console.log(`${''.padEnd(27)} tasks to the agent failing half its runs: project ${f0(total(p))}, plain ${f0(total(q))}`);
    }
  }
  console.log(`\n    targets (regret ≤ 0.75× plain and ≤ 0.4× random, nobody of true mean ≥ 0 suspended, every P0 assigned): ${ok ? 'met' : 'NOT met'}`);
  return ok;
}

/** A SQLite store with AGENTS agents, TASK_ROWS tasks and REWARDS settled rewards, loaded directly. */
export async function bigStore(dir: string): Promise<string> {
  const path = join(dir, 'routing.db');
  const store = await openStore(path);
  await store.close();
  const db = new SQLite(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const rnd = seededRandom(42);
  const created = '2024-01-01T00:00:00.000Z';
  const insertAgent = db.prepare(
    `insert into agents (name, tier, specializations, max_concurrent_tasks, config, rolling_avg, total_tasks, completed_tasks,
       failed_tasks, manual_override, active, created_at, updated_at)
     values (?, ?, ?, 2, ?, 0, 0, 0, 0, null, 1, ?, ?)`,
  );
  const insertTask = db.prepare(
    `insert into tasks (forge, repo_id, repo, repo_url, clone_url, default_branch, issue_number, issue_url, title, description,
       type, priority, tags, max_tokens, timeout_ms, status, created_at, updated_at)
     values ('github', 1, 'acme/widgets', 'u', 'c', 'main', ?, 'u', 't', 'd', ?, 'P2', '[]', 1000, 1000, 'completed', ?, ?)`,
  );
  const insertReward = db.prepare(
    `insert into rewards (task_id, agent_name, reward, components, weights, evaluator_version, hook_duration_ms, kind, degraded,
       created_at, updated_at, settled_at)
     values (?, ?, ?, '{}', '{}', 'bench', 40, 'final', 0, ?, ?, ?)`,
  );
  const tiers = ['junior', 'senior', 'principal'];
  const start = Date.parse(created);
  db.transaction(() => {
    for (let a = 0; a < AGENTS; a++) {
      const specs = JSON.stringify([TYPES[a % 4], TYPES[(a + 1) % 4]]);
      insertAgent.run(`agent-${a}`, tiers[a % 3], specs, JSON.stringify({ name: `agent-${a}`, tags: a % 10 === 0 ? ['api'] : [] }), created, created);
    }
    for (let t = 1; t <= TASK_ROWS; t++) insertTask.run(t, TYPES[t % 4], created, created);
    for (let r = 0; r < REWARDS; r++) {
      const at = new Date(start + r * 1_000).toISOString();
      const agent = Math.floor(rnd() * AGENTS);
      insertReward.run(1 + (r % TASK_ROWS), `agent-${agent}`, Math.round((rnd() * 8 - 2) * 100) / 100, at, at, at);
    }
  })();
  db.close();
  return path;
}

async function latency(): Promise<void> {
  console.log(`\n(b) decision latency: ${AGENTS.toLocaleString('en')} agents, ${REWARDS.toLocaleString('en')} settled rewards, SQLite file`);
  const dir = await mkdtemp(join(tmpdir(), 'doom-bench-routing-'));
  try {
    const t0 = performance.now();
    const path = await bigStore(dir);
    console.log(`    loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const store = await openStore(path);
    const config = parseConfigText('', 'bench.toml');
    const t1 = performance.now();
    const book = await RoutingBook.load(store.db, config);
    console.log(`    routing book loaded (agents + per-type aggregates): ${f0(performance.now() - t1)} ms, ${book.size} agents`);

    // One new outcome, then a catch-up: what every routing pass pays before deciding.
    await store.db
      .insertInto('rewards')
      .values({ task_id: 1, assignment_id: null, agent_name: 'agent-7', reward: 3, components: '{}', weights: '{}', evaluator_version: 'bench', hook_duration_ms: 1, kind: 'final', degraded: 0, mr_number: null, mr_state: null, created_at: new Date().toISOString(), updated_at: new Date().toISOString(), settled_at: new Date().toISOString() })
      .execute();
    const catchUps: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await book.catchUp(store.db);
      catchUps.push(performance.now() - t);
    }
    console.log(`    catchUp (tail of outcomes and agent rows, load): p50 ${pct(catchUps, 50).toFixed(2)} ms, p99 ${pct(catchUps, 99).toFixed(2)} ms`);

    const rng = seededRandom(7);
    const priorities: Priority[] = ['P0', 'P1', 'P2'];
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < DECISIONS + 200; i++) {
      const type = TYPES[i % 4]!;
      const c = process.cpuUsage();
      const t = performance.now();
      route(
        { type, priority: priorities[i % 3]!, tags: i % 5 === 0 ? ['api'] : [], waitingSince: Date.now() },
        book.candidates(type),
        policyFrom(config, { now: Date.now(), rng, fleetMean: book.fleetMean() }),
      );
      const wall = performance.now() - t;
      const used = process.cpuUsage(c);
      // The first 200 warm the JIT.
      if (i >= 200) {
        times.push(wall);
        cpu.push((used.user + used.system) / 1000);
      }
    }
    const n = book.candidates('bugfix').length;
    console.log(`    route() from the book, ${DECISIONS} decisions over ~${n} candidates each (target p99 < 1 ms):`);
    console.log(`      wall clock p50 ${pct(times, 50).toFixed(3)} ms, p99 ${pct(times, 99).toFixed(3)} ms; CPU time p50 ${pct(cpu, 50).toFixed(3)} ms, p99 ${pct(cpu, 99).toFixed(3)} ms`);
    console.log(`      (CPU time leaves out the waits for a core on a loaded machine: load average now ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `ROUTING_BENCH=latency` or `=simulator` runs one half only. */
export async function run(): Promise<void> {
  const only = process.env.ROUTING_BENCH;
  if (only !== 'latency') simulator();
  if (only !== 'simulator') await latency();
}
