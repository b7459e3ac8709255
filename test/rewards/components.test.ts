import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { assembleComponents, type PipelineSignals } from '../../src/rewards/components.js';
import { computeReward } from '../../src/rewards/formula.js';
import { renderRewardReport, rewardMarker } from '../../src/rewards/report-comment.js';

const config = configSchema.parse({});
const pipeline = (over: Partial<PipelineSignals> = {}): PipelineSignals => ({
  status: 'success',
  coverageHead: 82.5,
  coverageBase: 80,
  lintScore: 0.9,
  securityScore: 1,
  complexityDelta: -0.1,
  missing: {},
  ...over,
});

describe('assembleComponents', () => {
  it('a red pipeline whose failed jobs the target branch fails too is not held against the change', () => {
    expect(assembleComponents(pipeline({ status: 'failed' }), 0, config.evaluator).components.ci_pipeline_status).toBe(0);
    expect(assembleComponents(pipeline({ status: 'failed' }), 0, config.evaluator, { ciExcused: true }).components.ci_pipeline_status).toBe(1);
    // Only a failure is excused: a cancelled pipeline is still no pass.
    expect(assembleComponents(pipeline({ status: 'canceled' }), 0, config.evaluator, { ciExcused: true }).components.ci_pipeline_status).toBe(0);
  });

  it('maps every signal to its component', () => {
    const { components, degraded } = assembleComponents(pipeline(), 0.7, config.evaluator);
    expect(components).toEqual({
      test_coverage_delta: 0.25,
      lint_score: 0.9,
      security_scan_score: 1,
      code_complexity_delta: -0.1,
      ci_pipeline_status: 1,
      review_feedback_score: 0.7,
    });
    expect(degraded).toEqual({});
  });

  it('uses the configured defaults for missing signals and says why', () => {
    const { components, degraded } = assembleComponents(
      pipeline({ status: 'failed', coverageBase: null, lintScore: null, missing: { coverage: 'no successful pipeline on main', lint: 'no lint report in the pipeline' } }),
      null,
      config.evaluator,
    );
    expect(components).toMatchObject({ test_coverage_delta: 0, lint_score: 0.5, ci_pipeline_status: 0, review_feedback_score: 0 });
    expect(degraded).toEqual({
      test_coverage_delta: 'no successful pipeline on main',
      lint_score: 'no lint report in the pipeline',
      review_feedback_score: 'reviews could not be read',
    });
  });

  it('without a pipeline, CI counts as not passed and pipeline signals as degraded', () => {
    const { components, degraded } = assembleComponents(null, -0.6, config.evaluator);
    expect(components.ci_pipeline_status).toBe(0);
    expect(components.review_feedback_score).toBe(-0.6);
    expect(Object.keys(degraded).sort()).toEqual(['code_complexity_delta', 'lint_score', 'security_scan_score', 'test_coverage_delta']);
  });

  it('scales coverage by the configured full-scale points', () => {
    const narrow = { ...config.evaluator, coverage_full_scale_points: 2 };
    expect(assembleComponents(pipeline({ coverageHead: 79, coverageBase: 80 }), 0, narrow).components.test_coverage_delta).toBe(-0.5);
  });
});

describe('assembleComponents: patch coverage, and the project-coverage change when it is missing', () => {
  it('scores the patch against the target branch\'s coverage when the report has line data', () => {
    const { components, coverage, degraded } = assembleComponents(pipeline({ patch: { coverable: 10, covered: 9 } }), 0.7, config.evaluator);
    // 90% against 80%: 10 of the 20 points above the project.
    expect(components.test_coverage_delta).toBe(0.5);
    expect(coverage).toEqual({ kind: 'patch', coverable: 10, covered: 9, projectPercent: 80, against: 'base' });
    expect(degraded).toEqual({});
  });

  it('compares with the head\'s project coverage when the target branch has none, and is not degraded', () => {
    const { components, coverage, degraded } = assembleComponents(
      pipeline({ coverageBase: null, patch: { coverable: 10, covered: 9 }, missing: { coverage: 'no successful pipeline on main to compare coverage with' } }),
      0.7,
      config.evaluator,
    );
    // (90 − 82.5) / (100 − 82.5) = 0.42857…
    expect(components.test_coverage_delta).toBe(0.4286);
    expect(coverage).toMatchObject({ kind: 'patch', projectPercent: 82.5, against: 'head' });
    expect(degraded).toEqual({});
  });

  it('falls back to the project-coverage change without line data, saying why', () => {
    const why = 'the head has a coverage figure but no coverage report';
    const { components, coverage, degraded } = assembleComponents(pipeline({ patch: null, missing: { patch: why } }), 0.7, config.evaluator);
    expect(components.test_coverage_delta).toBe(0.25); // (82.5 − 80) / 10
    expect(coverage).toEqual({ kind: 'project', head: 82.5, base: 80, why });
    expect(degraded).toEqual({});
    // Signals stored before patch coverage existed have no `patch` at all.
    expect(assembleComponents(pipeline(), 0.7, config.evaluator).coverage).toMatchObject({ kind: 'project', why: 'patch coverage was not read' });
  });

  it('lets the project-coverage change speak for a change with no instrumented line (tests only, docs)', () => {
    const tests = assembleComponents(pipeline({ coverageHead: 85, patch: { coverable: 0, covered: 0 } }), 0.7, config.evaluator);
    expect(tests.components.test_coverage_delta).toBe(0.5);
    expect(tests.coverage).toMatchObject({ kind: 'project', why: 'no changed line is instrumented' });
  });

  it('takes the default, degraded, when neither can be computed', () => {
    const missing = { coverage: 'no successful pipeline on main to compare coverage with' };
    const empty = assembleComponents(pipeline({ coverageBase: null, patch: { coverable: 0, covered: 0 }, missing }), 0.7, config.evaluator);
    expect(empty.components.test_coverage_delta).toBe(config.evaluator.defaults.test_coverage_delta);
    expect(empty.coverage).toBeNull();
    expect(empty.degraded).toEqual({ test_coverage_delta: missing.coverage });
    const none = assembleComponents(pipeline({ coverageHead: null, coverageBase: null, patch: null, missing: { coverage: 'no coverage report or figure for the head' } }), 0, config.evaluator);
    expect(none.degraded.test_coverage_delta).toBe('no coverage report or figure for the head');
  });

  it('a guard\'s default replaces the patch score, and the report shows no basis for it', () => {
    const flagged = assembleComponents(pipeline({ patch: { coverable: 4, covered: 4 }, guards: [{ kind: 'deleted_test', file: 'a.test.ts' }] }), 0, config.evaluator);
    expect(flagged.components.test_coverage_delta).toBe(config.evaluator.defaults.test_coverage_delta);
    expect(flagged.coverage).toBeNull();
  });
});

describe('renderRewardReport', () => {
  it('shows each component with its weight and points, the reward, the tier and its change', () => {
    const { components, coverage, degraded } = assembleComponents(pipeline({ lintScore: null, missing: { lint: 'no lint report' } }), 1, config.evaluator);
    const reward = computeReward(components, config.evaluator.weights);
    const body = renderRewardReport({
      taskId: 7,
      agent: 'agent-bugfix-junior',
      kind: 'final',
      reward,
      components,
      weights: config.evaluator.weights,
      coverage,
      degraded,
      rollingAvg: 2.4,
      tier: 'senior',
      tierChange: { from: 'junior', to: 'senior', reason: 'rolling average 2.40 over the last 1 rewards → senior' },
      pipelineUrl: 'https://gitlab.example.com/p/-/pipelines/1',
    });
    expect(body.startsWith(rewardMarker(7))).toBe(true);
    expect(body).toContain(`### doom-rlvr reward: +${reward.toFixed(2)} (final)`);
    expect(body).toContain('| Component | Value | Score (−1…+1) | Weight | Points |');
    expect(body).toContain(
      '| Test coverage | +0.25 (project coverage 80.0% → 82.5%; no patch coverage: patch coverage was not read) | +0.25 | 0.30 | +0.38 |',
    );
    // Lint's default 0.5 scores 0; complexity −0.1 (10% more complex) scores 1 − 0.2.
    expect(body).toContain('| Lint | +0.50 (default: no lint report) | 0.00 | 0.20 | 0.00 |');
    expect(body).toContain('| Complexity delta | -0.10 | +0.80 | 0.10 | +0.40 |');
    expect(body).toContain('| CI pipeline | +1.00 | +1.00 | 0.10 | +0.50 |');
    // 0.38 + 0 + 1.00 + 0.40 + 0.50 + 0.50 (review 1) = 2.78 rounded: 5 × 0.555 = 2.775.
    expect(reward).toBe(2.775);
    expect(body).toContain('| **Reward** | | | | **+2.77** |');
    expect(body).toContain('rolling average 2.40, tier **senior**');
    expect(body).toContain('**Tier change:** junior → senior');
    expect(body).toContain('the reward is marked degraded');
    expect(body).not.toContain('Closed without merging');
  });

  it('shows the patch behind the coverage value, and that a closed merge request earns no credit', () => {
    const { components, coverage, degraded } = assembleComponents(pipeline({ patch: { coverable: 10, covered: 9 } }), -0.6, config.evaluator);
    const reward = computeReward(components, config.evaluator.weights, { mrState: 'closed' });
    const body = renderRewardReport({
      taskId: 7,
      agent: 'agent-bugfix-junior',
      kind: 'final',
      reward,
      components,
      weights: config.evaluator.weights,
      coverage,
      mrState: 'closed',
      degraded,
      rollingAvg: -0.3,
      tier: 'suspended',
      tierChange: null,
      pipelineUrl: null,
    });
    expect(body).toContain("| Test coverage | +0.50 (patch 9/10 changed lines, 90.0%, against the target branch's 80.0%) | 0.00 | 0.30 | 0.00 |");
    expect(body).toContain('| Review feedback | -0.60 | -0.60 | 0.10 | -0.30 |');
    expect(body).toContain('Closed without merging');
    expect(reward).toBe(-0.3);
  });
});

describe('assembleComponents: guarded changes', () => {
  it.each([
    ['a protected path', [{ kind: 'protected_path', file: '.gitlab-ci.yml' }], 'the change has a protected path (1 finding)'],
    ['a deleted test and a skip marker', [{ kind: 'deleted_test', file: 'a.test.ts' }, { kind: 'skip_marker', file: 'b.test.ts', line: 3, marker: '.skip(' }], 'the change has a deleted test, skip marker (2 findings)'],
  ] as const)('%s: CI, coverage and lint take their defaults', (_, guards, why) => {
    const { components, degraded, guarded } = assembleComponents(pipeline({ guards: [...guards], lintScore: null, missing: { lint: 'no lint report' } }), 0.5, config.evaluator);
    expect(components).toEqual({
      test_coverage_delta: config.evaluator.defaults.test_coverage_delta,
      lint_score: config.evaluator.defaults.lint_score,
      security_scan_score: 1,
      code_complexity_delta: -0.1,
      ci_pipeline_status: config.evaluator.defaults.ci_pipeline_status,
      review_feedback_score: 0.5,
    });
    expect(guarded).toEqual({ ci_pipeline_status: why, test_coverage_delta: why, lint_score: why });
    // A guarded component is not also degraded.
    expect(degraded).toEqual({});
  });

  it('nothing flagged, or signals stored before the guards existed: nothing guarded', () => {
    expect(assembleComponents(pipeline({ guards: [] }), 0.5, config.evaluator).guarded).toEqual({});
    expect(assembleComponents(pipeline(), 0.5, config.evaluator).guarded).toEqual({});
    expect(assembleComponents(null, 0.5, config.evaluator).guarded).toEqual({});
  });
});
