/**
 * The pipeline's Prometheus metrics, read from the store at scrape time like the others
 * (metrics/metrics.ts): Pass@1 and Pass@K over the executions that reached review, cost
 * and latency per execution, and the flake rate of suite re-runs on the base commit.
 */
import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { executionDurations, pipelineSummary } from '../store/pipeline.js';
import type { Database } from '../store/schema.js';

export function registerPipelineMetrics(registry: Registry, db: Kysely<Database>): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: Awaited<ReturnType<typeof pipelineSummary>>) => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.reset();
        const v = value(await pipelineSummary(db));
        if (v !== null) this.set(v);
      },
    });
  gauge('doom_pipeline_executions', 'Pipeline executions (one per attempt the pipeline ran).', (s) => s.executions);
  gauge('doom_pipeline_pass_at_1', 'Share of reviewed executions whose first candidate passed every critical gate.', (s) => s.pass_at_1);
  gauge('doom_pipeline_pass_at_k', 'Share of reviewed executions where any of the K candidates passed every critical gate (repairs not counted).', (s) => s.pass_at_k);
  gauge('doom_pipeline_flake_rate', 'Share of suite re-runs on the base commit that gave another result than the first run.', (s) => s.flake_rate);
  new Counter({
    name: 'doom_pipeline_cost_usd_total',
    help: 'Dollars the pipeline spent, over every step of every execution.',
    registers,
    async collect() {
      this.reset();
      this.inc((await pipelineSummary(db)).cost_usd);
    },
  });
  new Counter({
    name: 'doom_pipeline_suite_reruns_total',
    help: 'Suite re-runs on the base commit after a candidate and the base disagreed; flaky="true": those whose result flipped.',
    labelNames: ['flaky'],
    registers,
    async collect() {
      this.reset();
      const s = await pipelineSummary(db);
      this.inc({ flaky: 'true' }, s.flaky_reruns);
      this.inc({ flaky: 'false' }, s.suite_reruns - s.flaky_reruns);
    },
  });
  new Histogram({
    name: 'doom_pipeline_latency_seconds',
    help: 'How long each pipeline execution took, spec to docs.',
    buckets: [30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
    registers,
    async collect() {
      this.reset();
      for (const ms of await executionDurations(db)) this.observe(ms / 1000);
    },
  });
}
