/**
 * Prometheus metrics, read from the store at scrape time (so every replica reports the
 * same numbers and nothing is lost across restarts), named after the seed's metrics:
 *
 * - `doom_tasks_total{status}`: runs that ended, by how (`completed`, `failed`, `timeout`,
 *   `token_limit`, `cancelled`, `interrupted`); an escalated task counts once per run.
 * - `doom_task_duration_seconds{agent}`: a histogram of run durations, by agent.
 * - `doom_agent_reward{agent,component}`: `component="total"` is the rolling average the tier
 *   rules use; every reward component is its mean over the same evaluation window.
 * - `doom_agent_tier{agent,tier}`, `doom_coordinator_queue_length`,
 *   `doom_evaluator_duration_seconds` (a histogram), `doom_hooks_failed_total{hook}`.
 *
 * - `doom_pipeline_*`: Pass@1, Pass@K, cost, latency and flake rate of the pipeline (pipeline/metrics.ts).
 *
 * Histograms are rebuilt from the stored rows at each scrape: their counts only grow while
 * rows are kept (rewards and runs are), which is what Prometheus' `rate()` expects.
 */
import type { Kysely } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { successRates } from '../store/rewards.js';
import type { Database } from '../store/schema.js';
import {
  countByStatus,
  evaluationDurations,
  evaluationErrors,
  finishedRuns,
  runOutcomes,
  settledRewardsWithType,
  usageBy,
} from '../store/stats.js';
import { listAgents } from '../store/agents.js';
import { registerPipelineMetrics } from '../pipeline/metrics.js';
import { failedHookCounts } from '../store/hook-events.js';

/** What a run's outcome is called in `doom_tasks_total`: the seed says completed, not success. */
const statusOfOutcome = (outcome: string): string => (outcome === 'success' ? 'completed' : outcome);

/** The seed's statuses, reported even at zero so that a dashboard's query never finds nothing. */
const seedStatuses = ['completed', 'failed', 'timeout'];

/** Pure: the mean of each reward component over each agent's newest `window` settled rewards. */
export function componentMeans(
  rewards: readonly { agent_name: string; components: string }[],
  window: number,
): Map<string, Record<string, number>> {
  const byAgent = new Map<string, Record<string, number>[]>();
  for (const r of rewards) byAgent.set(r.agent_name, [...(byAgent.get(r.agent_name) ?? []), JSON.parse(r.components) as Record<string, number>]);
  const out = new Map<string, Record<string, number>>();
  for (const [agent, all] of byAgent) {
    const recent = all.slice(-window);
    const sums: Record<string, { total: number; n: number }> = {};
    for (const c of recent) {
      for (const [k, v] of Object.entries(c)) sums[k] = { total: (sums[k]?.total ?? 0) + v, n: (sums[k]?.n ?? 0) + 1 };
    }
    out.set(agent, Object.fromEntries(Object.entries(sums).map(([k, s]) => [k, s.total / s.n])));
  }
  return out;
}

export function createMetrics(db: Kysely<Database>, config: Pick<Config, 'tiers'>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  new Gauge({
    name: 'doom_tasks',
    help: 'Tasks by current status.',
    labelNames: ['status'],
    registers,
    async collect() {
      this.reset();
      for (const [status, n] of Object.entries(await countByStatus(db, 'tasks'))) this.set({ status }, n);
    },
  });
  new Counter({
    name: 'doom_tasks_total',
    help: 'Runs that ended, by how: completed, failed, timeout, token_limit, cancelled, interrupted.',
    labelNames: ['status'],
    registers,
    async collect() {
      this.reset();
      for (const status of seedStatuses) this.inc({ status }, 0);
      for (const [outcome, n] of Object.entries(await runOutcomes(db))) this.inc({ status: statusOfOutcome(outcome) }, n);
    },
  });
  new Histogram({
    name: 'doom_task_duration_seconds',
    help: 'How long runs took, from start to end, by agent.',
    labelNames: ['agent'],
    buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
    registers,
    async collect() {
      this.reset();
      for (const r of await finishedRuns(db)) {
        this.observe({ agent: r.agent_name }, Math.max(0, (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000));
      }
    },
  });
  new Gauge({
    name: 'doom_coordinator_queue_length',
    help: 'Tasks waiting for an agent.',
    registers,
    async collect() {
      this.set((await countByStatus(db, 'tasks')).pending ?? 0);
    },
  });
  new Gauge({
    name: 'doom_inbox_deliveries',
    help: 'Stored webhook deliveries by status (failed ones need an operator).',
    labelNames: ['status'],
    registers,
    async collect() {
      this.reset();
      for (const [status, n] of Object.entries(await countByStatus(db, 'webhook_deliveries'))) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'doom_agent_reward',
    help: 'Agent reward over its evaluation window: component="total" is the rolling average; each component its mean.',
    labelNames: ['agent', 'component'],
    registers,
    async collect() {
      this.reset();
      const [agents, rewards] = await Promise.all([listAgents(db), settledRewardsWithType(db)]);
      const means = componentMeans(rewards, config.tiers.evaluation_window);
      for (const a of agents) {
        this.set({ agent: a.name, component: 'total' }, a.rolling_avg);
        for (const [component, mean] of Object.entries(means.get(a.name) ?? {})) this.set({ agent: a.name, component }, mean);
      }
    },
  });
  new Gauge({
    name: 'doom_agent_tier',
    help: "1 for the agent's current tier.",
    labelNames: ['agent', 'tier'],
    registers,
    async collect() {
      this.reset();
      for (const a of await listAgents(db)) this.set({ agent: a.name, tier: a.tier }, 1);
    },
  });
  new Histogram({
    name: 'doom_evaluator_duration_seconds',
    help: 'How long the evaluator took to compute each stored reward (its latest evaluation).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
    async collect() {
      this.reset();
      for (const ms of await evaluationDurations(db)) this.observe(ms / 1000);
    },
  });
  new Counter({
    name: 'doom_hooks_failed_total',
    help: 'Hook runs that failed, by hook. hook="evaluator": evaluations that failed (the previous reward stood); hook="SubagentStop": doom evaluate runs that recorded no reward.',
    labelNames: ['hook'],
    registers,
    async collect() {
      this.reset();
      this.inc({ hook: 'evaluator' }, await evaluationErrors(db));
      const failed = await failedHookCounts(db);
      // SubagentStop is the seed's hook that can fail here: always reported, 0 included.
      for (const hook of new Set(['SubagentStop', ...Object.keys(failed)])) this.inc({ hook }, failed[hook] ?? 0);
    },
  });
  new Gauge({
    name: 'doom_agent_success_rate',
    help: "Share of the agent's final rewards whose merge request was merged (merged / final, see README Rewards).",
    labelNames: ['agent'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [agent, s] of await successRates(db)) if (s.rate !== null) this.set({ agent }, s.rate);
    },
  });
  new Gauge({
    name: 'doom_evaluator_errors',
    help: 'Evaluations that failed (the previous reward stood), since the store was created.',
    registers,
    async collect() {
      this.set(await evaluationErrors(db));
    },
  });
  new Gauge({
    name: 'doom_tokens_used',
    help: 'Tokens spent by agents, by agent.',
    labelNames: ['agent'],
    registers,
    async collect() {
      this.reset();
      for (const r of await usageBy(db, 'agent')) this.set({ agent: r.key }, r.tokens);
    },
  });
  registerPipelineMetrics(registry, db);
  return registry;
}
