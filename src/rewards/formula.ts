/**
 * The reward. Each of the seed's six components keeps the seed's range (that is what is stored
 * and shown), and is *scored* on one scale: −1 is what a harmful change does, 0 is neutral or
 * unknown, +1 is what an excellent change does. The reward is five times the weighted sum of
 * the scores, so with weights summing to 1 it spans the seed's −5..+5 both ways:
 *
 * | component | value | score |
 * |---|---|---|
 * | `test_coverage_delta` | −1..+1 | the value: patch coverage against the project's (components.ts) |
 * | `lint_score` | 0..1 | 2v − 1: no new finding +1, the default 0.5 → 0, 0 → −1 |
 * | `security_scan_score` | 0..1 | 2v − 1, as lint |
 * | `code_complexity_delta` | −1..+1 | clamp(1 + 2v): no growth (or less) +1, touched files 25% more complex +0.5, 50% 0, doubled −1 |
 * | `ci_pipeline_status` | 0/1 | 2v − 1: green +1, anything else −1 |
 * | `review_feedback_score` | −1..+1 | the value |
 *
 * A merge request closed without merging earns no credit: its positive scores count as 0, so
 * only what speaks against it moves the reward (clean lint on discarded work is worth nothing).
 *
 * Why scores and not the seed's plain sum of values: lint, security and CI only ranged over
 * 0..1, so doing nothing wrong earned +0.5 each and a broken build or a vulnerability could only
 * withhold points; complexity's 0 for "unchanged" took half a point from nearly every fix, which
 * adds a branch or two. A clean, green, approved merge then scored 2.85, principal (4.0) needed
 * +7.7 points of project coverage per MR, and a red MR closed unmerged scored above 0. See
 * typical.ts for what typical merge requests score now.
 */
import type { Weights } from '../config/schema.js';
import type { MergeRequestState } from '../store/schema.js';

export const EVALUATOR_VERSION = '2.0.0';

export interface RewardComponents {
  test_coverage_delta: number;
  lint_score: number;
  security_scan_score: number;
  code_complexity_delta: number;
  ci_pipeline_status: number;
  review_feedback_score: number;
}

export type ComponentName = keyof RewardComponents;

const clamp = (v: number): number => Math.max(-1, Math.min(1, v));
const identity = (v: number): number => v;
const fromUnit = (v: number): number => 2 * v - 1;

interface Spec {
  min: number;
  max: number;
  weight: keyof Weights;
  integer?: true;
  /** The value on the −1..+1 scale (see the table above). */
  score: (value: number) => number;
}

/** Each component's range in the seed, the weight key that scales it, and its score. */
export const componentSpec: Record<ComponentName, Spec> = {
  test_coverage_delta: { min: -1, max: 1, weight: 'test_coverage', score: identity },
  lint_score: { min: 0, max: 1, weight: 'lint_score', score: fromUnit },
  security_scan_score: { min: 0, max: 1, weight: 'security_scan', score: fromUnit },
  code_complexity_delta: { min: -1, max: 1, weight: 'complexity', score: (v) => clamp(1 + 2 * v) },
  ci_pipeline_status: { min: 0, max: 1, weight: 'ci_status', integer: true, score: fromUnit },
  review_feedback_score: { min: -1, max: 1, weight: 'review_feedback', score: identity },
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

/** What is known of the merge request the components describe; a manual reward knows nothing. */
export interface RewardContext {
  mrState?: MergeRequestState | null;
}

/** Each component's score as it counts in the reward: after the closed-unmerged rule. */
export function componentScores(c: RewardComponents, context: RewardContext = {}): RewardComponents {
  checkComponents(c);
  const rejected = context.mrState === 'closed';
  const out = {} as RewardComponents;
  for (const name of componentNames) {
    const score = componentSpec[name].score(c[name]);
    out[name] = (rejected ? Math.min(0, score) : score) + 0;
  }
  return out;
}

/** The reward in [-5, +5], rounded to 4 decimals so stored values compare exactly. */
export function computeReward(c: RewardComponents, weights: Weights, context: RewardContext = {}): number {
  const scores = componentScores(c, context);
  const sum = componentNames.reduce((acc, name) => acc + weights[componentSpec[name].weight] * scores[name], 0);
  const reward = Math.max(-5, Math.min(5, 5 * sum));
  // `+ 0`: a sum that cancels to −0 is stored and compared as 0.
  return Math.round(reward * 10_000) / 10_000 + 0;
}
