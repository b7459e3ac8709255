/** Reward components at the ends of their ranges, for tests. */
import type { RewardComponents } from '../../src/rewards/formula.js';

/**
 * Reward 0 with the seed weights, and a base that reaches ±2.5 when three components are
 * set to their best or worst (test/tiers relies on it). CI is 0 or 1, so its score is −1 or
 * +1, never 0: its −1 (−0.1 of the sum) is balanced by lint and security scoring +0.25 each
 * (2 × 0.625 − 1); complexity −0.5 scores 0 (1 + 2 × −0.5).
 */
export const neutral: RewardComponents = {
  test_coverage_delta: 0,
  lint_score: 0.625,
  security_scan_score: 0.625,
  code_complexity_delta: -0.5,
  ci_pipeline_status: 0,
  review_feedback_score: 0,
};

/** Every component at its best: reward +5. */
export const perfect: RewardComponents = {
  test_coverage_delta: 1,
  lint_score: 1,
  security_scan_score: 1,
  code_complexity_delta: 1,
  ci_pipeline_status: 1,
  review_feedback_score: 1,
};
