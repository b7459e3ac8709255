/**
 * The seed's Prometheus names, exactly, after a real loop: `doom demo` (a sample repository, the
 * scripted agent on a branch, the repository's own commands as pipeline, a review and a merge)
 * leaves its store, and the registry `/metrics` serves reads it. Every seed name must be there
 * with exactly its labels, and the process metrics beside them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';
import { createProgress } from '../../src/cli/progress.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { componentNames } from '../../src/rewards/formula.js';
import { openStore } from '../../src/store/db.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format, one sample per line (prom-client writes no timestamps). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

describe('the seed metric names after a real loop', () => {
  let dir: string;
  let text: string;
  const agent = 'agent-bugfix-junior';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'doom-metrics-demo-'));
    const sink = { write: () => true, isTTY: false };
    const demo = await runDemo({ dir: join(dir, 'demo'), log: createLogger({ level: 'silent' }), progress: createProgress(sink), claude: false });
    const store = await openStore(demo.databaseUrl);
    try {
      text = await createMetrics(store.db, loadConfig(join(demo.dir, 'config', 'doom-rlvr.toml')).config).metrics();
    } finally {
      await store.close();
    }
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const of = (name: string) => parseExposition(text).samples.filter((s) => s.name === name);
  const labelSets = (name: string) => new Set(of(name).map((s) => Object.keys(s.labels).sort().join(',')));
  const value = (name: string, labels: Record<string, string>) =>
    of(name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value;

  it('has every seed name with its type', () => {
    const { types } = parseExposition(text);
    expect(Object.fromEntries(
      ['doom_tasks_total', 'doom_task_duration_seconds', 'doom_agent_reward', 'doom_agent_tier', 'doom_coordinator_queue_length', 'doom_evaluator_duration_seconds', 'doom_hooks_failed_total'].map((n) => [n, types.get(n)]),
    )).toEqual({
      doom_tasks_total: 'counter',
      doom_task_duration_seconds: 'histogram',
      doom_agent_reward: 'gauge',
      doom_agent_tier: 'gauge',
      doom_coordinator_queue_length: 'gauge',
      doom_evaluator_duration_seconds: 'histogram',
      doom_hooks_failed_total: 'counter',
    });
  });

  it('doom_tasks_total{status}: the run that completed, and failed and timeout at 0', () => {
    expect(labelSets('doom_tasks_total')).toEqual(new Set(['status']));
    expect(value('doom_tasks_total', { status: 'completed' })).toBe(1);
    expect(value('doom_tasks_total', { status: 'failed' })).toBe(0);
    expect(value('doom_tasks_total', { status: 'timeout' })).toBe(0);
  });

  it('doom_task_duration_seconds{agent}: a histogram of the one run', () => {
    expect(labelSets('doom_task_duration_seconds_bucket')).toEqual(new Set(['agent,le']));
    expect(labelSets('doom_task_duration_seconds_count')).toEqual(new Set(['agent']));
    expect(value('doom_task_duration_seconds_count', { agent })).toBe(1);
    expect(value('doom_task_duration_seconds_bucket', { agent, le: '+Inf' })).toBe(1);
    expect(value('doom_task_duration_seconds_sum', { agent })).toBeGreaterThanOrEqual(0);
  });

  it('doom_agent_reward{agent,component}: the rolling average and each of the six components', () => {
    expect(labelSets('doom_agent_reward')).toEqual(new Set(['agent,component']));
    const components = of('doom_agent_reward').filter((s) => s.labels.agent === agent).map((s) => s.labels.component).sort();
    expect(components).toEqual(['total', ...componentNames].sort());
    expect(value('doom_agent_reward', { agent, component: 'total' })).toBe(4.85);
    expect(value('doom_agent_reward', { agent, component: 'ci_pipeline_status' })).toBe(1);
    expect(value('doom_agent_reward', { agent, component: 'review_feedback_score' })).toBeCloseTo(0.7);
  });

  it('doom_agent_tier{agent,tier}: 1 for the tier the merge moved it to', () => {
    expect(labelSets('doom_agent_tier')).toEqual(new Set(['agent,tier']));
    expect(of('doom_agent_tier').filter((s) => s.labels.agent === agent)).toEqual([{ name: 'doom_agent_tier', labels: { agent, tier: 'principal' }, value: 1 }]);
  });

  it('doom_coordinator_queue_length, doom_evaluator_duration_seconds and doom_hooks_failed_total{hook}', () => {
    expect(of('doom_coordinator_queue_length')).toEqual([{ name: 'doom_coordinator_queue_length', labels: {}, value: 0 }]);
    expect(labelSets('doom_evaluator_duration_seconds_bucket')).toEqual(new Set(['le']));
    expect(value('doom_evaluator_duration_seconds_count', {})).toBe(1);
    expect(labelSets('doom_hooks_failed_total')).toEqual(new Set(['hook']));
    expect(value('doom_hooks_failed_total', { hook: 'evaluator' })).toBe(0);
    expect(value('doom_hooks_failed_total', { hook: 'SubagentStop' })).toBe(0);
  });

  it('keeps what existed before and the process metrics', () => {
    expect(value('doom_tasks', { status: 'completed' })).toBe(1);
    expect(value('doom_tokens_used', { agent })).toBe(1500);
    expect(value('doom_agent_success_rate', { agent })).toBe(1);
    expect(value('doom_evaluator_errors', {})).toBe(0);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) expect(of(name).length, name).toBeGreaterThan(0);
  });
});
