/** Reward components at the ends of their ranges, for tests. */
import type { RewardComponents } from '../../src/rewards/formula.js';

/** Every component 0: reward 0. */
export const neutral: RewardComponents = {
  test_coverage_delta: 0,
  lint_score: 0,
  security_scan_score: 0,
  code_complexity_delta: 0,
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
