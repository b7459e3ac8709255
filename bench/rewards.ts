/**
 * Rewards and tiers, against the seed's latency targets:
 *
 * (a) Reward calculation < 1 s: the evaluator's work once the CI reports are downloaded. Head and
 *     base reports of real size are parsed (an LCOV of 2,000 files, an ESLint JSON of 5,000
 *     messages, a SARIF of 1,000 results), the new findings are told from the inherited ones,
 *     patch coverage is counted over 200 changed files of 120 changed lines each, the signals
 *     are scored and `computeReward` combines them. (The complexity signal parses
 *     source with tree-sitter and is not part of this figure.)
 * (b) Tier update < 100 ms per agent, and the nightly recompute of 10,000 agents holding
 *     1,000,000 rewards under 1 s as a whole, on a SQLite file. In the same run, the baseline:
 *     the per-agent `recomputeAgent` loop over 200 agents, extrapolated to all of them, and the
 *     plain `row_number()` window over all settled rewards (the query the set-based recompute
 *     avoids).
 *
 * Loading is done with better-sqlite3 directly (one transaction, one prepared statement,
 * synchronous=OFF); the measurements go through the store as the bot opens it (WAL,
 * synchronous=FULL).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { componentNames, computeReward, EVALUATOR_VERSION, type RewardComponents } from '../src/rewards/formula.js';
import {
  coverageDelta,
  lintScore,
  newFindings,
  parseEslintJson,
  parseLcov,
  parseSarifSecurity,
  patchCoverage,
  patchCoverageScore,
  securityScore,
  type ChangedLine,
} from '../src/rewards/signals/index.js';
import { openStore, type Store } from '../src/store/db.js';
import { recomputeAllTiers, type RecomputeResult } from '../src/tiers/recompute.js';
import { recomputeAgent } from '../src/tiers/service.js';

const ROOT = new URL('..', import.meta.url);

const LCOV_FILES = 2_000;
const LCOV_LINES_PER_FILE = 60;
const ESLINT_MESSAGES = 5_000;
const SARIF_RESULTS = 1_000;
const CHANGED_FILES = 200;
const REWARD_RUNS = 20;

const AGENTS = 10_000;
const REWARDS_PER_AGENT = 100;
const BASELINE_AGENTS = 200;
const DRIFTED_AGENTS = 100;

const REWARD_TARGET_MS = 1_000;
const WHOLE_TARGET_MS = 1_000;
const PER_AGENT_TARGET_MS = 100;

/** A small deterministic generator, so every run builds the same data. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 2 ** 32;
  };
}

const filePath = (i: number) => `packages/p${i % 20}/src/m${Math.floor(i / 20) % 10}/file${i}.ts`;

// ---------------------------------------------------------------------------------------------
// (a) Reward from parsed reports

function lcov(files: number, coveredShare: number, seed: number): string {
  const rnd = random(seed);
  const out: string[] = [];
  for (let f = 0; f < files; f++) {
    out.push('TN:', `SF:/builds/acme/widgets/${filePath(f)}`, `FN:1,f${f}`, `FNDA:3,f${f}`, 'FNF:1', 'FNH:1');
    let hit = 0;
    for (let l = 1; l <= LCOV_LINES_PER_FILE; l++) {
      const h = rnd() < coveredShare ? 1 + Math.floor(rnd() * 20) : 0;
      if (h > 0) hit++;
      out.push(`DA:${l * 2},${h}`);
    }
    out.push(`LF:${LCOV_LINES_PER_FILE}`, `LH:${hit}`, 'end_of_record');
  }
  return `${out.join('\n')}\n`;
}

const eslintRules = ['no-unused-vars', 'eqeqeq', 'prefer-const', '@typescript-eslint/no-explicit-any', 'no-console', 'curly'];

function eslintJson(messages: number, seed: number): string {
  const rnd = random(seed);
  const perFile = 5;
  const files = [];
  for (let f = 0; f * perFile < messages; f++) {
    const list = [];
    for (let m = 0; m < perFile && f * perFile + m < messages; m++) {
      const rule = eslintRules[(f + m) % eslintRules.length]!;
      list.push({
        ruleId: rule,
        severity: rnd() < 0.3 ? 2 : 1,
        message: `${rule} violated here (${m})`,
        line: 1 + Math.floor(rnd() * 300),
        column: 1 + Math.floor(rnd() * 60),
        nodeType: 'Identifier',
        endLine: 1,
        endColumn: 2,
      });
    }
    files.push({
      filePath: `/builds/acme/widgets/${filePath(f)}`,
      messages: list,
      suppressedMessages: [],
      errorCount: list.filter((m) => m.severity === 2).length,
      fatalErrorCount: 0,
      warningCount: list.filter((m) => m.severity === 1).length,
      fixableErrorCount: 0,
      fixableWarningCount: 0,
      usedDeprecatedRules: [],
    });
  }
  return JSON.stringify(files);
}

function sarif(results: number, seed: number): string {
  const rnd = random(seed);
  const rules = Array.from({ length: 40 }, (_, i) => ({
    id: `js/security-rule-${i}`,
    defaultConfiguration: { level: i % 3 === 0 ? 'error' : 'warning' },
    properties: { 'security-severity': String(((i * 7) % 100) / 10), tags: ['security'] },
  }));
  const list = [];
  for (let r = 0; r < results; r++) {
    const rule = Math.floor(rnd() * rules.length);
    const file = filePath(Math.floor(rnd() * 1_000));
    list.push({
      ruleId: rules[rule]!.id,
      ruleIndex: rule,
      level: rules[rule]!.defaultConfiguration.level,
      message: { text: `Potential problem ${r % 50} in ${file}` },
      locations: [{ physicalLocation: { artifactLocation: { uri: file, uriBaseId: '%SRCROOT%' }, region: { startLine: 1 + (r % 400) } } }],
      partialFingerprints: { primaryLocationLineHash: `${(r * 2_654_435_761) >>> 0}:1` },
    });
  }
  return JSON.stringify({
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [{ tool: { driver: { name: 'CodeQL', version: '2.20.0', rules } }, results: list }],
  });
}

interface Reports {
  lcovHead: string;
  lcovBase: string;
  eslintHead: string;
  eslintBase: string;
  sarifHead: string;
  sarifBase: string;
  changed: string[];
  changedLines: ChangedLine[];
}

function buildReports(): Reports {
  return {
    lcovHead: lcov(LCOV_FILES, 0.82, 1),
    lcovBase: lcov(LCOV_FILES, 0.8, 2),
    eslintHead: eslintJson(ESLINT_MESSAGES, 3),
    eslintBase: eslintJson(ESLINT_MESSAGES - 250, 3),
    sarifHead: sarif(SARIF_RESULTS, 5),
    sarifBase: sarif(SARIF_RESULTS - 20, 5),
    changed: Array.from({ length: CHANGED_FILES }, (_, i) => filePath(i * 5)),
    changedLines: Array.from({ length: CHANGED_FILES }, (_, i) => Array.from({ length: 2 * LCOV_LINES_PER_FILE }, (_, l) => ({ file: filePath(i * 5), line: l + 1 }))).flat(),
  };
}

/** One evaluation: every report of head and base parsed, scored and combined. */
function evaluate(r: Reports, config: Config): number {
  const root = '/builds/acme/widgets';
  const [head, base] = [parseLcov(r.lcovHead, { root }), parseLcov(r.lcovBase, { root })];
  const patch = patchCoverage(head, r.changedLines);
  const coverage = patch && patch.coverable > 0 ? patchCoverageScore(patch, base.percent) : coverageDelta(head.percent, base.percent);
  const lintNew = newFindings(parseEslintJson(r.eslintHead, { root }), parseEslintJson(r.eslintBase, { root }), r.changed);
  const securityNew = newFindings(parseSarifSecurity(r.sarifHead), parseSarifSecurity(r.sarifBase), r.changed);
  const components: RewardComponents = {
    test_coverage_delta: coverage,
    lint_score: lintScore(lintNew, 1_200),
    security_scan_score: securityScore(securityNew),
    code_complexity_delta: 0,
    ci_pipeline_status: 1,
    review_feedback_score: 0.5,
  };
  return computeReward(components, config.evaluator.weights);
}

function rewardFromReports(config: Config): { perReward: number[]; formulaNs: number; sizes: string } {
  const reports = buildReports();
  for (let i = 0; i < 3; i++) evaluate(reports, config); // warm-up: JIT, zod schemas
  const perReward: number[] = [];
  for (let i = 0; i < REWARD_RUNS; i++) {
    const t0 = performance.now();
    evaluate(reports, config);
    perReward.push(performance.now() - t0);
  }
  const components: RewardComponents = {
    test_coverage_delta: 0.2,
    lint_score: 0.9,
    security_scan_score: 1,
    code_complexity_delta: -0.1,
    ci_pipeline_status: 1,
    review_feedback_score: 0.5,
  };
  const calls = 200_000;
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) sink += computeReward({ ...components, lint_score: (i % 100) / 100 }, config.evaluator.weights);
  const formulaNs = ((performance.now() - t0) * 1e6) / calls;
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  const kib = (s: string) => `${Math.round(Buffer.byteLength(s) / 1024)} KiB`;
  const sizes =
    `head + base each: LCOV ${LCOV_FILES} files (${kib(reports.lcovHead)}), ESLint JSON ${ESLINT_MESSAGES} messages ` +
    `(${kib(reports.eslintHead)}), SARIF ${SARIF_RESULTS} results (${kib(reports.sarifHead)}); ${CHANGED_FILES} changed files`;
  return { perReward, formulaNs, sizes };
}

// ---------------------------------------------------------------------------------------------
// (b) Tier recompute over 10,000 agents and 1,000,000 rewards

const agentName = (a: number) => `agent-${String(a).padStart(5, '0')}`;

/** Fills the store's file directly: agents at junior with a zero average, as freshly registered. */
function load(path: string, config: Config): { ms: number; rewards: number } {
  const t0 = performance.now();
  const db = new SQLite(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const rnd = random(42);
  const weights = JSON.stringify(config.evaluator.weights);
  // A pool of real component sets and their rewards, reused across rows.
  const pool = Array.from({ length: 1_024 }, () => {
    const c: RewardComponents = {
      test_coverage_delta: Math.round((rnd() * 2 - 1) * 1000) / 1000,
      lint_score: Math.round(rnd() * 1000) / 1000,
      security_scan_score: Math.round(rnd() * 1000) / 1000,
      code_complexity_delta: Math.round((rnd() * 2 - 1) * 1000) / 1000,
      ci_pipeline_status: rnd() < 0.85 ? 1 : 0,
      review_feedback_score: Math.round((rnd() * 2 - 1) * 1000) / 1000,
    };
    return { json: JSON.stringify(c, componentNames), reward: computeReward(c, config.evaluator.weights) };
  });
  const start = Date.parse('2024-01-01T00:00:00.000Z');
  const insertAgent = db.prepare(
    `insert into agents (name, tier, specializations, max_concurrent_tasks, config, rolling_avg, total_tasks, completed_tasks,
       failed_tasks, manual_override, active, created_at, updated_at)
     values (?, 'junior', '["bugfix","feature"]', 2, '{}', 0, 0, 0, 0, null, 1, ?, ?)`,
  );
  const insertReward = db.prepare(
    `insert into rewards (task_id, agent_name, reward, components, weights, evaluator_version, hook_duration_ms, kind, degraded,
       created_at, updated_at, settled_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  let rewards = 0;
  db.transaction(() => {
    const created = new Date(start).toISOString();
    for (let a = 0; a < AGENTS; a++) insertAgent.run(agentName(a), created, created);
    for (let round = 0; round < REWARDS_PER_AGENT; round++) {
      for (let a = 0; a < AGENTS; a++) {
        const at = new Date(start + (round * AGENTS + a) * 30_000 + Math.floor(rnd() * 60_000)).toISOString();
        const k = rnd();
        const kind = k < 0.01 ? 'provisional' : k < 0.03 ? 'manual' : 'final';
        const p = pool[rewards & 1023]!;
        insertReward.run(++rewards, agentName(a), p.reward, p.json, weights, EVALUATOR_VERSION, 40, kind, k > 0.98 ? 1 : 0, at, at, kind === 'provisional' ? null : at);
      }
    }
  })();
  db.close();
  return { ms: performance.now() - t0, rewards };
}

/** Puts `count` agents (spread over the range, from `offset`) out of line with their rewards. */
async function drift(store: Store, count: number, offset: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => agentName((offset + i * Math.floor(AGENTS / count)) % AGENTS));
  await store.db.updateTable('agents').set({ rolling_avg: 9.99, tier: 'principal' }).where('name', 'in', names).execute();
  return names;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await work();
  return { ms: performance.now() - t0, value };
}

// ---------------------------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const ms = (x: number) => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 1 ? `${x.toFixed(1)} ms` : `${x.toFixed(3)} ms`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const verdict = (value: number, target: number) => (value < target ? 'met' : 'MISSED');

export async function run(): Promise<void> {
  console.log('\n## Rewards and tiers: reward calculation, nightly tier recompute\n');
  const config = loadConfig(new URL('config/doom-rlvr.toml', ROOT).pathname).config;

  // (a)
  const reward = rewardFromReports(config);
  const perReward = mean(reward.perReward);
  const worstReward = Math.max(...reward.perReward);

  // (b)
  const dir = await mkdtemp(join(tmpdir(), 'doom-bench-rewards-'));
  const path = join(dir, 'doom.db');
  let store: Store | null = null;
  try {
    // The schema first (so the loader writes into the shipped tables and indexes), then the data.
    await (await openStore(path)).close();
    const loaded = load(path, config);
    store = await openStore(path);
    const db = store.db;
    const size = (await stat(path)).size;

    // Warm the page cache as a long-running server has it, then: the first run after the load
    // (every agent's average moves), a night with some drift, a night with nothing to do.
    await recomputeAllTiers(db, { ...config, tiers: { ...config.tiers, evaluation_window: 1 } }, { source: 'nightly', actor: 'bench' });
    await db.updateTable('agents').set({ tier: 'junior', rolling_avg: 0, manual_override: null }).execute();
    const cold = await recomputeAllTiers(db, config, { source: 'nightly', actor: 'bench' });
    const drifted = await drift(store, DRIFTED_AGENTS, 7);
    const nightly = await recomputeAllTiers(db, config, { source: 'nightly', actor: 'bench' });
    const idle = await recomputeAllTiers(db, config, { source: 'nightly', actor: 'bench' });
    const repaired = nightly.updated === DRIFTED_AGENTS && idle.updated === 0;

    // Baseline: the per-agent path, for BASELINE_AGENTS agents put out of line first (each one
    // is written, as in the first run), then again with nothing to write (as on a quiet night).
    const sample = await drift(store, BASELINE_AGENTS, 3);
    const perAgentWrite = await timed(async () => {
      for (const name of sample) await recomputeAgent(db, config, name, 'nightly', 'bench');
    });
    const perAgentRead = await timed(async () => {
      for (const name of sample) await recomputeAgent(db, config, name, 'nightly', 'bench');
    });
    const scale = AGENTS / BASELINE_AGENTS;

    // Reference: the plain window over every settled reward, query only.
    const plainWindow = await timed(() =>
      sql`select agent_name, reward, settled_at, rn from (
            select agent_name, reward, settled_at,
              row_number() over (partition by agent_name order by settled_at desc, id desc) as rn
            from rewards where kind in ('final', 'manual') and settled_at is not null) as ranked
          where rn <= ${config.tiers.evaluation_window}`.execute(db),
    );

    const setRow = (name: string, r: RecomputeResult, baseline: number) => [
      name,
      `${r.updated}`,
      ms(r.durationMs),
      ms(r.durationMs / AGENTS),
      verdict(r.durationMs, WHOLE_TARGET_MS),
      ms(baseline),
      `${(baseline / r.durationMs).toFixed(1)}×`,
    ];
    console.log(
      table([
        ['reward calculation', 'runs', 'per reward', 'worst', 'target', ''],
        ['parse head+base reports, score, computeReward', `${REWARD_RUNS}`, ms(perReward), ms(worstReward), `< ${REWARD_TARGET_MS} ms`, verdict(worstReward, REWARD_TARGET_MS)],
        ['computeReward alone', '200000', `${reward.formulaNs.toFixed(0)} ns`, '', '', ''],
      ]),
    );
    console.log(`  ${reward.sizes}\n`);
    console.log(
      table([
        [`tier recompute, ${AGENTS} agents, ${loaded.rewards} rewards`, 'rows written', 'whole', 'per agent', '< 1 s', `per-agent loop ×${scale}`, 'speed-up'],
        setRow('set-based, first run (every average moves)', cold, perAgentWrite.ms * scale),
        setRow(`set-based, ${DRIFTED_AGENTS} agents drifted`, nightly, perAgentRead.ms * scale),
        setRow('set-based, nothing to change', idle, perAgentRead.ms * scale),
      ]),
    );
    console.log(
      [
        '',
        `baseline, recomputeAgent one agent at a time over ${BASELINE_AGENTS} agents:`,
        `  each needing a write:  ${ms(perAgentWrite.ms)} (${ms(perAgentWrite.ms / BASELINE_AGENTS)} per agent, target < ${PER_AGENT_TARGET_MS} ms: ${verdict(perAgentWrite.ms / BASELINE_AGENTS, PER_AGENT_TARGET_MS)}) → ×${scale} = ${ms(perAgentWrite.ms * scale)}`,
        `  nothing to write:      ${ms(perAgentRead.ms)} (${ms(perAgentRead.ms / BASELINE_AGENTS)} per agent) → ×${scale} = ${ms(perAgentRead.ms * scale)}`,
        `reference, plain row_number() window over all settled rewards (query only): ${ms(plainWindow.ms)}, ` +
          `${(plainWindow.ms / idle.durationMs).toFixed(1)}× the whole no-change recompute`,
        `drift repaired: ${repaired ? `yes (${drifted.length} agents rewritten, then none)` : `NO (${nightly.updated} then ${idle.updated} rows written)`}; ` +
          `first run: ${cold.changed.length} tier changes`,
        '',
        `setup: ${AGENTS} agents × ${REWARDS_PER_AGENT} rewards (97% final, 2% manual, 1% provisional), evaluation window ` +
          `${config.tiers.evaluation_window}; loaded in ${(loaded.ms / 1000).toFixed(1)} s into ${(size / 1024 ** 2).toFixed(0)} MiB ` +
          `(${dir}); measured through the store as the bot opens it: SQLite WAL, synchronous=FULL. ` +
          `${availableParallelism()} CPUs, Node ${process.version}.`,
      ].join('\n'),
    );
    if (!repaired) throw new Error('the recompute did not repair exactly the drifted agents');
  } finally {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
