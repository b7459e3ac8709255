/**
 * The seed's reward: a weighted sum of six quality components, times five. With weights
 * summing to 1 a perfect change scores +5 and all-zero components score 0. Lint, security
 * and CI only range over [0, 1], so the lowest reachable reward is -5 times the weight of
 * the signed components (coverage, complexity, review): -2.5 with the seed's weights. A
 * clean, green change that moves nothing else scores +2.5 with those weights.
 */
import type { Weights } from '../config/schema.js';

export const EVALUATOR_VERSION = '1.0.0';

export interface RewardComponents {
  test_coverage_delta: number;
  lint_score: number;
  security_scan_score: number;
  code_complexity_delta: number;
  ci_pipeline_status: number;
  review_feedback_score: number;
}

export type ComponentName = keyof RewardComponents;

/** Each component's range in the seed, and the weight key that scales it. */
export const componentSpec: Record<ComponentName, { min: number; max: number; weight: keyof Weights; integer?: true }> = {
  test_coverage_delta: { min: -1, max: 1, weight: 'test_coverage' },
  lint_score: { min: 0, max: 1, weight: 'lint_score' },
  security_scan_score: { min: 0, max: 1, weight: 'security_scan' },
  code_complexity_delta: { min: -1, max: 1, weight: 'complexity' },
  ci_pipeline_status: { min: 0, max: 1, weight: 'ci_status', integer: true },
  review_feedback_score: { min: -1, max: 1, weight: 'review_feedback' },
};

export const componentNames = Object.keys(componentSpec) as ComponentName[];

/** Throws a RangeError naming the first component outside its range. */
export function checkComponents(c: RewardComponents): void {
  for (const name of componentNames) {
    const { min, max, integer } = componentSpec[name];
    const v = c[name];
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new RangeError(`${name} must be ${integer ? `${min} or ${max}` : `between ${min} and ${max}`}, got ${v}`);
    }
  }
}

/** The reward in [-5, +5], rounded to 4 decimals so stored values compare exactly. */
export function computeReward(c: RewardComponents, weights: Weights): number {
  checkComponents(c);
  const sum = componentNames.reduce((acc, name) => acc + weights[componentSpec[name].weight] * c[name], 0);
  const reward = Math.max(-5, Math.min(5, 5 * sum));
  return Math.round(reward * 10_000) / 10_000;
}
