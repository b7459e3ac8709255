/**
 * From signals to the six reward components: each signal that could be read becomes its
 * component; each one that could not gets the configured default and is named in
 * `degraded`. Pure: the evaluator gathers the signals, this decides.
 *
 * `test_coverage_delta` is the MR's patch coverage against the project's (signals/patch.ts)
 * when the head's coverage report has per-line data for a changed line; else the change in
 * project coverage (`coverageDelta`: a pipeline with only a coverage figure, or a change with
 * no instrumented line); else its default, and the reward is degraded.
 */
import type { Config } from '../config/schema.js';
import type { GuardFinding } from '../policy/guards.js';
import { coverageDelta } from './signals/coverage.js';
import { patchCoverageScore, type PatchCoverage } from './signals/patch.js';
import type { RewardComponents } from './formula.js';

/** What the pipeline said, as stored between events. */
export interface PipelineSignals {
  status: 'success' | 'failed' | 'canceled' | 'skipped' | 'neutral';
  /** Coverage percent of the head and of the target branch; null when unknown. */
  coverageHead: number | null;
  coverageBase: number | null;
  /**
   * The head report's counts over the change's added and modified lines; null when there was
   * no per-line data (why: `missing.patch`), absent in signals stored before it existed.
   */
  patch?: PatchCoverage | null;
  lintScore: number | null;
  securityScore: number | null;
  complexityDelta: number | null;
  /** Why a signal is missing, by signal. */
  missing: Record<string, string>;
  /**
   * What the reward-hacking guards flagged in the change (policy/guards.ts); absent in
   * signals stored before the guards existed, which counts as nothing flagged.
   */
  guards?: GuardFinding[];
}

/** What `test_coverage_delta` was computed from, for the report; null when it is a default. */
export type CoverageBasis =
  | { kind: 'patch'; covered: number; coverable: number; projectPercent: number; against: 'base' | 'head' }
  | { kind: 'project'; head: number; base: number; why: string };

export interface Assembled {
  components: RewardComponents;
  coverage: CoverageBasis | null;
  /** Components that used their default, with why. */
  degraded: Record<string, string>;
  /** Components that were read but not trusted (a guard flagged the change), with why. */
  guarded: Record<string, string>;
}

/** The components a flagged change could have moved by editing their configuration or its tests. */
const untrusted = ['ci_pipeline_status', 'test_coverage_delta', 'lint_score'] as const;

/**
 * A flagged change's CI, coverage and lint take their configured defaults: the agent changed
 * what produces them (a workflow, a coverage or lint configuration, the tests themselves).
 */
function guard(
  components: RewardComponents,
  findings: readonly GuardFinding[],
  defaults: Config['evaluator']['defaults'],
): { components: RewardComponents; guarded: Record<string, string> } {
  if (findings.length === 0) return { components, guarded: {} };
  const kinds = [...new Set(findings.map((f) => f.kind.replace('_', ' ')))].join(', ');
  const why = `the change has a ${kinds} (${findings.length} finding${findings.length === 1 ? '' : 's'})`;
  const guarded: Record<string, string> = {};
  const out = { ...components };
  for (const name of untrusted) {
    out[name] = defaults[name];
    guarded[name] = why;
  }
  return { components: out, guarded };
}

export function assembleComponents(
  pipeline: PipelineSignals | null,
  reviewScore: number | null,
  evaluator: Pick<Config['evaluator'], 'defaults' | 'coverage_full_scale_points'>,
  /** `ciExcused`: the pipeline failed only in jobs that fail on the target branch too (tasks/ci-fixes.ts). */
  options: { ciExcused?: boolean } = {},
): Assembled {
  const d = evaluator.defaults;
  const degraded: Record<string, string> = {};
  const pick = (name: keyof RewardComponents, value: number | null | undefined, fallback: number, why: string): number => {
    if (value !== null && value !== undefined && Number.isFinite(value)) return value;
    degraded[name] = why;
    return fallback;
  };
  const noPipeline = 'no pipeline has finished for the head commit';
  const coverage = pipeline ? coverageOf(pipeline, evaluator.coverage_full_scale_points) : null;
  const read: RewardComponents = {
    test_coverage_delta: pick(
      'test_coverage_delta',
      coverage?.value,
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
    // No finished pipeline is not a pass; a failure the target branch has too is not held against the change.
    ci_pipeline_status: pipeline?.status === 'success' || (pipeline?.status === 'failed' && options.ciExcused) ? 1 : 0,
    review_feedback_score: pick('review_feedback_score', reviewScore, 0, 'reviews could not be read'),
  };
  const { components, guarded } = guard(read, pipeline?.guards ?? [], d);
  for (const name of Object.keys(guarded)) delete degraded[name];
  const basis = coverage && !guarded.test_coverage_delta ? coverage.basis : null;
  return { components, coverage: basis, degraded, guarded };
}

/**
 * Patch coverage against the target branch's project coverage (Codecov's `auto` target), or
 * the head's own when the target branch has none. A change with no instrumented changed line
 * (tests only, docs, configuration) has no patch coverage; the project-coverage change speaks
 * for it instead, so adding missing tests still counts.
 */
function coverageOf(pipeline: PipelineSignals, fullScaleDelta: number): { value: number; basis: CoverageBasis } | null {
  const { coverageHead: head, coverageBase: base, patch } = pipeline;
  const project = base ?? head;
  if (patch && patch.coverable > 0 && project !== null) {
    const basis: CoverageBasis = { kind: 'patch', ...patch, projectPercent: project, against: base !== null ? 'base' : 'head' };
    return { value: patchCoverageScore(patch, project), basis };
  }
  if (head === null || base === null) return null;
  const why = patch ? 'no changed line is instrumented' : (pipeline.missing.patch ?? 'patch coverage was not read');
  return { value: coverageDelta(head, base, { fullScaleDelta }), basis: { kind: 'project', head, base, why } };
}
