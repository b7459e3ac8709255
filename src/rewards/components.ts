/**
 * From signals to the six reward components: each signal that could be read becomes its
 * component; each one that could not gets the configured default and is named in
 * `degraded`. Pure: the evaluator gathers the signals, this decides.
 */
import type { Config } from '../config/schema.js';
import { coverageDelta } from './signals/coverage.js';
import type { RewardComponents } from './formula.js';

/** What the pipeline said, as stored between events. */
export interface PipelineSignals {
  status: 'success' | 'failed' | 'canceled' | 'skipped' | 'neutral';
  /** Coverage percent of the head and of the target branch; null when unknown. */
  coverageHead: number | null;
  coverageBase: number | null;
  lintScore: number | null;
  securityScore: number | null;
  complexityDelta: number | null;
  /** Why a signal is missing, by signal. */
  missing: Record<string, string>;
}

export interface Assembled {
  components: RewardComponents;
  /** Components that used their default, with why. */
  degraded: Record<string, string>;
}

export function assembleComponents(
  pipeline: PipelineSignals | null,
  reviewScore: number | null,
  evaluator: Pick<Config['evaluator'], 'defaults' | 'coverage_full_scale_points'>,
): Assembled {
  const d = evaluator.defaults;
  const degraded: Record<string, string> = {};
  const pick = (name: keyof RewardComponents, value: number | null | undefined, fallback: number, why: string): number => {
    if (value !== null && value !== undefined && Number.isFinite(value)) return value;
    degraded[name] = why;
    return fallback;
  };
  const noPipeline = 'no pipeline has finished for the head commit';
  const coverage =
    pipeline && pipeline.coverageHead !== null && pipeline.coverageBase !== null
      ? coverageDelta(pipeline.coverageHead, pipeline.coverageBase, { fullScaleDelta: evaluator.coverage_full_scale_points })
      : null;
  return {
    components: {
      test_coverage_delta: pick(
        'test_coverage_delta',
        coverage,
        d.test_coverage_delta,
        pipeline ? (pipeline.missing.coverage ?? 'no coverage figure for the head or the target branch') : noPipeline,
      ),
      lint_score: pick('lint_score', pipeline?.lintScore, d.lint_score, pipeline ? (pipeline.missing.lint ?? 'no lint report') : noPipeline),
      security_scan_score: pick(
        'security_scan_score',
        pipeline?.securityScore,
        d.security_scan_score,
        pipeline ? (pipeline.missing.security ?? 'no security report') : noPipeline,
      ),
      code_complexity_delta: pick(
        'code_complexity_delta',
        pipeline?.complexityDelta,
        d.code_complexity_delta,
        pipeline?.missing.complexity ?? 'complexity was not measured',
      ),
      // No finished pipeline is not a pass.
      ci_pipeline_status: pipeline?.status === 'success' ? 1 : 0,
      review_feedback_score: pick('review_feedback_score', reviewScore, 0, 'reviews could not be read'),
    },
    degraded,
  };
}
