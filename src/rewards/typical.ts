/**
 * What typical merge requests score, computed from their signals by the evaluator's own pure
 * functions (patch coverage, lint, security, complexity, review, `assembleComponents`,
 * `computeReward`). The README quotes this table, a test pins it, and the routing simulator
 * draws its agents' rewards from it, so the three cannot drift apart from the formula.
 *
 * ```ts
 * const [excellent, untested, harmful] = typicalMergeRequests();
 * excellent.reward; // 4.8: an agent that does this every time averages over 4.0, principal
 * harmful.reward;   // −2.45: below 0, suspended
 * ```
 */
import { configSchema, type Config } from '../config/schema.js';
import type { ReviewVerdict } from '../forges/forge.js';
import type { MergeRequestState } from '../store/schema.js';
import { assembleComponents, type PipelineSignals } from './components.js';
import { computeReward, type RewardComponents } from './formula.js';
import { reviewFeedback } from './review.js';
import { complexityDelta } from './signals/complexity.js';
import { lintScore } from './signals/lint.js';
import type { PatchCoverage } from './signals/patch.js';
import { securityScore } from './signals/security.js';

export type TypicalKey = 'well_tested_fix' | 'untested_change' | 'red_closed';

export interface TypicalMergeRequest {
  key: TypicalKey;
  /** Short name, as in the README table. */
  label: string;
  /** What happened to it, in words. */
  story: string;
  state: MergeRequestState;
  components: RewardComponents;
  reward: number;
}

interface Story {
  key: TypicalKey;
  label: string;
  story: string;
  state: MergeRequestState;
  ci: PipelineSignals['status'];
  patch: PatchCoverage;
  /** Complexity of the touched files before and after. */
  complexity: [number, number];
  verdicts: ReviewVerdict['state'][];
}

/** A 12-line change in a project whose target branch is 80% covered. */
const PROJECT_PERCENT = 80;
const CHANGED_LINES = 12;

const stories: readonly Story[] = [
  {
    key: 'well_tested_fix',
    label: 'well-tested merged fix',
    story: 'every changed line covered by its tests, no new lint or security finding, one branch added (complexity 20 → 21), green, one approval, merged',
    state: 'merged',
    ci: 'success',
    patch: { coverable: 10, covered: 10 },
    complexity: [20, 21],
    verdicts: ['approved'],
  },
  {
    key: 'untested_change',
    label: 'untested merged change',
    story: 'the same change without tests: no changed line covered; green, merged without a review',
    state: 'merged',
    ci: 'success',
    patch: { coverable: 10, covered: 0 },
    complexity: [20, 21],
    verdicts: [],
  },
  {
    key: 'red_closed',
    label: 'red closed MR',
    story: 'untested, the pipeline fails, a reviewer requests changes, closed without merging',
    state: 'closed',
    ci: 'failed',
    patch: { coverable: 10, covered: 0 },
    complexity: [20, 21],
    verdicts: ['changes_requested'],
  },
];

const reviewer = { id: 1, login: 'maintainer', isBot: false };

function score(s: Story, evaluator: TypicalEvaluator): TypicalMergeRequest {
  const pipeline: PipelineSignals = {
    status: s.ci,
    coverageHead: PROJECT_PERCENT,
    coverageBase: PROJECT_PERCENT,
    patch: s.patch,
    lintScore: lintScore([], CHANGED_LINES),
    securityScore: securityScore([]),
    complexityDelta: complexityDelta({ 'src/fix.ts': s.complexity[0] }, { 'src/fix.ts': s.complexity[1] }),
    missing: {},
    guards: [],
  };
  const review = reviewFeedback({
    verdicts: s.verdicts.map((state) => ({ user: reviewer, state, at: null })),
    reactions: [],
    state: s.state,
    permissions: new Map([[reviewer.login, 'maintain']]),
    authorLogin: 'doom-bot',
  });
  const { components } = assembleComponents(pipeline, review.score, evaluator);
  return {
    key: s.key,
    label: s.label,
    story: s.story,
    state: s.state,
    components,
    reward: computeReward(components, evaluator.weights, { mrState: s.state }),
  };
}

export type TypicalEvaluator = Pick<Config['evaluator'], 'weights' | 'defaults' | 'coverage_full_scale_points'>;

/** The typical merge requests, best first, scored with `evaluator` (default: the shipped config). */
export function typicalMergeRequests(evaluator: TypicalEvaluator = configSchema.parse({}).evaluator): TypicalMergeRequest[] {
  return stories.map((s) => score(s, evaluator));
}
