import { describe, expect, it } from 'vitest';
import { histogram, summarize, summarizeBy } from '../../src/metrics/summary.js';
import { componentMeans } from '../../src/metrics/metrics.js';

describe('summarize', () => {
  it.each([
    [[], { n: 0, mean: null, stderr: null, low: null, high: null }],
    [[3], { n: 1, mean: 3, stderr: null, low: null, high: null }],
    [[1, 3], { n: 2, mean: 2, stderr: 1, low: 0.04, high: 3.96 }],
    [[2, 2, 2], { n: 3, mean: 2, stderr: 0, low: 2, high: 2 }],
  ])('%j', (values, expected) => {
    expect(summarize(values)).toEqual(expected);
  });

  it('groups by key', () => {
    expect(summarizeBy([{ k: 'b', v: 1 }, { k: 'a', v: 2 }, { k: 'b', v: 3 }], (x) => x.k, (x) => x.v)).toEqual({
      a: { n: 1, mean: 2, stderr: null, low: null, high: null },
      b: { n: 2, mean: 2, stderr: 1, low: 0.04, high: 3.96 },
    });
  });
});

describe('histogram', () => {
  it('bins [-5, 5] into ten, the ends inclusive and outliers clamped', () => {
    const bins = histogram([-5, -0.1, 0, 4.99, 5, 7]);
    expect(bins).toHaveLength(10);
    expect(bins.map((b) => b.count)).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 0, 3]);
    expect(bins[5]).toEqual({ from: 0, to: 1, count: 1 });
  });
});

describe('componentMeans', () => {
  it("averages each component over each agent's newest window", () => {
    const rows = [
      { agent_name: 'a', components: '{"lint_score":0}' },
      { agent_name: 'a', components: '{"lint_score":1,"ci_pipeline_status":1}' },
      { agent_name: 'a', components: '{"lint_score":0.5,"ci_pipeline_status":0}' },
      { agent_name: 'b', components: '{"lint_score":1}' },
    ];
    expect(Object.fromEntries(componentMeans(rows, 2))).toEqual({ a: { lint_score: 0.75, ci_pipeline_status: 0.5 }, b: { lint_score: 1 } });
  });
});
