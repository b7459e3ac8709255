/**
 * Pure summaries of rewards for the REST API and the dashboard. The router and the tiers read
 * their own bounds (src/routing/posterior.ts: failed runs counted, the spread pulled toward a
 * prior, as `doom agents list` shows them); the interval shown here is the plain one: the
 * mean ± 1.96 standard errors of the agent's settled rewards (a normal approximation, labelled
 * as such wherever it is shown).
 */

export interface RewardSummary {
  /** How many settled rewards it summarizes. */
  n: number;
  mean: number | null;
  /** Sample standard deviation / √n; null below two rewards. */
  stderr: number | null;
  /** mean ± 1.96 · stderr; null below two rewards. */
  low: number | null;
  high: number | null;
}

/** The statistic the interval is: named in every response so a reader knows what it is. */
export const INTERVAL_METHOD = 'mean ± 1.96 standard errors of settled rewards (normal approximation)';

const round = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(values: readonly number[]): RewardSummary {
  const n = values.length;
  if (n === 0) return { n, mean: null, stderr: null, low: null, high: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean: round(mean), stderr: null, low: null, high: null };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const stderr = Math.sqrt(variance / n);
  return { n, mean: round(mean), stderr: round(stderr), low: round(mean - 1.96 * stderr), high: round(mean + 1.96 * stderr) };
}

/** Groups `items` by `key` and summarizes each group's values, keys in sorted order. */
export function summarizeBy<T>(items: readonly T[], key: (item: T) => string, value: (item: T) => number): Record<string, RewardSummary> {
  const groups = new Map<string, number[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), value(item)]);
  }
  return Object.fromEntries([...groups.keys()].sort().map((k) => [k, summarize(groups.get(k)!)]));
}

export interface HistogramBin {
  /** Inclusive lower edge. */
  from: number;
  /** Exclusive upper edge (inclusive for the last bin). */
  to: number;
  count: number;
}

/** Counts rewards in [-5, +5] into `bins` equal bins; values outside are clamped to the ends. */
export function histogram(values: readonly number[], bins = 10, range: [number, number] = [-5, 5]): HistogramBin[] {
  const [lo, hi] = range;
  const width = (hi - lo) / bins;
  const out = Array.from({ length: bins }, (_, i) => ({ from: lo + i * width, to: lo + (i + 1) * width, count: 0 }));
  for (const v of values) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
    out[i]!.count++;
  }
  return out;
}
