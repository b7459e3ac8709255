import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { typicalMergeRequests, type TypicalKey } from '../../src/rewards/typical.js';

const config = configSchema.parse({});
const { promotion_threshold, demotion_threshold, suspension_threshold, evaluation_window } = config.tiers;
const typical = Object.fromEntries(typicalMergeRequests().map((m) => [m.key, m])) as Record<TypicalKey, ReturnType<typeof typicalMergeRequests>[number]>;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const times = (n: number, value: number) => Array.from({ length: n }, () => value);

describe('typical merge requests on the reward scale (the README table)', () => {
  it('scores each one with the real formula', () => {
    // Scores: coverage, lint, security, complexity (+5%: 0.9), CI, review; weights 0.3 0.2 0.2 0.1 0.1 0.1.
    // well-tested fix: 5 × (0.3 + 0.2 + 0.2 + 0.09 + 0.1 + 0.07) = 4.8 (review: approval 0.3 + merge 0.4)
    // untested change: 5 × (−0.3 + 0.2 + 0.2 + 0.09 + 0.1 + 0.04) = 1.65 (review: the merge alone 0.4)
    // red closed: positives count 0: 5 × (−0.3 − 0.1 − 0.09) = −2.45 (review: changes requested −0.3, closed −0.6)
    expect(typicalMergeRequests().map((m) => [m.key, m.reward])).toEqual([
      ['well_tested_fix', 4.8],
      ['untested_change', 1.65],
      ['red_closed', -2.45],
    ]);
    expect(typical.well_tested_fix.components).toEqual({
      test_coverage_delta: 1,
      lint_score: 1,
      security_scan_score: 1,
      code_complexity_delta: -0.05,
      ci_pipeline_status: 1,
      review_feedback_score: 0.7,
    });
    expect(typical.red_closed).toMatchObject({ state: 'closed', components: { ci_pipeline_status: 0, test_coverage_delta: -1, review_feedback_score: -0.9 } });
  });

  it('puts each in the tier an agent doing it every time belongs to, under the seed thresholds', () => {
    expect(typical.well_tested_fix.reward).toBeGreaterThanOrEqual(promotion_threshold);
    expect(typical.untested_change.reward).toBeGreaterThanOrEqual(suspension_threshold);
    expect(typical.untested_change.reward).toBeLessThan(demotion_threshold);
    expect(typical.red_closed.reward).toBeLessThan(suspension_threshold);
  });

  it('leaves room for an off day: mostly excellent is still principal, mostly harmful still suspended', () => {
    const window = evaluation_window;
    expect(window).toBe(10);
    // Eight well-tested fixes and two untested merges: (8 × 4.8 + 2 × 1.65) / 10 = 4.17.
    expect(mean([...times(8, typical.well_tested_fix.reward), ...times(2, typical.untested_change.reward)])).toBeCloseTo(4.17, 10);
    // Eight red closed MRs and two untested merges: (8 × −2.45 + 2 × 1.65) / 10 = −1.63.
    expect(mean([...times(8, typical.red_closed.reward), ...times(2, typical.untested_change.reward)])).toBeCloseTo(-1.63, 10);
  });

  it('follows the configured weights', () => {
    const ciOnly = { ...config.evaluator, weights: { test_coverage: 0, lint_score: 0, security_scan: 0, complexity: 0, ci_status: 1, review_feedback: 0 } };
    expect(typicalMergeRequests(ciOnly).map((m) => m.reward)).toEqual([5, 5, -5]);
  });
});
