import { describe, expect, it } from 'vitest';
import { configSchema, type Weights } from '../../src/config/schema.js';
import {
  checkComponents,
  componentNames,
  componentScores,
  componentSpec,
  computeReward,
  type RewardComponents,
} from '../../src/rewards/formula.js';
import { parseComponentArgs, RewardError } from '../../src/rewards/manual.js';
import { neutral, perfect } from '../helpers/components.js';

/** The seed's weights, which are also the config default. */
const seed: Weights = configSchema.parse({}).evaluator.weights;

const worst: RewardComponents = {
  test_coverage_delta: -1,
  lint_score: 0,
  security_scan_score: 0,
  code_complexity_delta: -1,
  ci_pipeline_status: 0,
  review_feedback_score: -1,
};

describe('computeReward', () => {
  it('uses the seed weights by default', () => {
    expect(seed).toEqual({
      test_coverage: 0.3,
      lint_score: 0.2,
      security_scan: 0.2,
      complexity: 0.1,
      ci_status: 0.1,
      review_feedback: 0.1,
    });
  });

  it('scores a perfect change +5', () => {
    expect(computeReward(perfect, seed)).toBe(5);
  });

  it('scores a change whose scores cancel out 0', () => {
    expect(computeReward(neutral, seed)).toBe(0);
    expect(Object.is(computeReward(neutral, seed), 0)).toBe(true); // not −0
  });

  it('scores the worst change −5: every component scores −1', () => {
    expect(componentScores(worst)).toEqual({
      test_coverage_delta: -1,
      lint_score: -1,
      security_scan_score: -1,
      code_complexity_delta: -1,
      ci_pipeline_status: -1,
      review_feedback_score: -1,
    });
    expect(computeReward(worst, seed)).toBe(-5);
  });

  it('weights each component as the seed says', () => {
    // One component at +1, every other at −1: 5 × (w − (1 − w)) = 10w − 5.
    const only = (name: keyof RewardComponents) => computeReward({ ...worst, [name]: perfect[name] }, seed);
    expect(only('test_coverage_delta')).toBe(-2);
    expect(only('lint_score')).toBe(-3);
    expect(only('security_scan_score')).toBe(-3);
    expect(only('code_complexity_delta')).toBe(-4);
    expect(only('ci_pipeline_status')).toBe(-4);
    expect(only('review_feedback_score')).toBe(-4);
  });

  it('a green, approved, merged change that did not move project coverage: 3.35, where the seed scale gave 2.85', () => {
    const c: RewardComponents = {
      test_coverage_delta: 0,
      lint_score: 1,
      security_scan_score: 1,
      code_complexity_delta: 0,
      ci_pipeline_status: 1,
      review_feedback_score: 0.7,
    };
    // 5 × (0 + 0.2 + 0.2 + 0.1 × 1 + 0.1 + 0.1 × 0.7) = 3.35
    expect(computeReward(c, seed, { mrState: 'merged' })).toBe(3.35);
  });

  it('matches the seed example shape: a green pipeline with good lint and a small coverage gain', () => {
    const c: RewardComponents = {
      test_coverage_delta: 0.2,
      lint_score: 0.9,
      security_scan_score: 1,
      code_complexity_delta: 0,
      ci_pipeline_status: 1,
      review_feedback_score: 0.5,
    };
    // Scores 0.2, 0.8, 1, 1, 1, 0.5: 5 × (0.06 + 0.16 + 0.2 + 0.1 + 0.1 + 0.05) = 3.35
    expect(computeReward(c, seed)).toBe(3.35);
  });

  it('rounds to 4 decimals', () => {
    // lint 1/3 scores −1/3: 5 × (0.2 × −1/3 + 0.05 − 0.1) = −0.58333…
    expect(computeReward({ ...neutral, lint_score: 1 / 3 }, seed)).toBe(-0.5833);
  });

  it('uses custom weights', () => {
    const reviewOnly: Weights = { test_coverage: 0, lint_score: 0, security_scan: 0, complexity: 0, ci_status: 0, review_feedback: 1 };
    expect(computeReward({ ...perfect, review_feedback_score: -1 }, reviewOnly)).toBe(-5);
    expect(computeReward({ ...neutral, review_feedback_score: 0.4 }, reviewOnly)).toBe(2);
    const ciHeavy: Weights = { test_coverage: 0.1, lint_score: 0.1, security_scan: 0.1, complexity: 0.1, ci_status: 0.5, review_feedback: 0.1 };
    // 5 × (0.1 × 0.25 + 0.1 × 0.25 + 0.5 × 1) = 2.75
    expect(computeReward({ ...neutral, ci_pipeline_status: 1 }, ciHeavy)).toBe(2.75);
  });

  it('clamps to [-5, +5] when the weights sum to more than 1', () => {
    const heavy: Weights = { test_coverage: 1, lint_score: 1, security_scan: 1, complexity: 1, ci_status: 1, review_feedback: 1 };
    expect(computeReward(perfect, heavy)).toBe(5);
    expect(computeReward(worst, heavy)).toBe(-5);
    // Scores 0, 0.25, 0.25, 0, −1, 0: 5 × −0.5
    expect(computeReward(neutral, heavy)).toBe(-2.5);
  });

  it('checks the components before computing', () => {
    expect(() => computeReward({ ...perfect, lint_score: 1.5 }, seed)).toThrow('lint_score must be between 0 and 1, got 1.5');
  });
});

describe('componentScores', () => {
  it('maps each component into −1..+1', () => {
    const at = (name: keyof RewardComponents, value: number) => componentScores({ ...neutral, [name]: value })[name];
    expect([0, 0.5, 1].map((v) => at('lint_score', v))).toEqual([-1, 0, 1]);
    expect(at('lint_score', 0.79)).toBeCloseTo(0.58, 10); // one error in a 100-line change
    expect([0, 0.5, 1].map((v) => at('security_scan_score', v))).toEqual([-1, 0, 1]);
    expect([0, 1].map((v) => at('ci_pipeline_status', v))).toEqual([-1, 1]);
    expect([-1, -0.3, 0.4].map((v) => at('test_coverage_delta', v))).toEqual([-1, -0.3, 0.4]);
    expect([-1, -0.9, 0.7].map((v) => at('review_feedback_score', v))).toEqual([-1, -0.9, 0.7]);
    // Complexity is a cost: no growth +1, +5% 0.9, +25% 0.5, +50% 0, doubled −1; less is no better than none.
    expect([0.5, 0, -0.05, -0.25, -0.5, -1].map((v) => at('code_complexity_delta', v))).toEqual([1, 1, 0.9, 0.5, 0, -1]);
  });

  it('counts no positive score of a merge request closed without merging', () => {
    const clean: RewardComponents = { ...perfect, review_feedback_score: -0.6 };
    expect(componentScores(clean, { mrState: 'closed' })).toEqual({
      test_coverage_delta: 0,
      lint_score: 0,
      security_scan_score: 0,
      code_complexity_delta: 0,
      ci_pipeline_status: 0,
      review_feedback_score: -0.6,
    });
    // 5 × 0.1 × −0.6; merged or open, the same components would score 5 × (0.9 − 0.06).
    expect(computeReward(clean, seed, { mrState: 'closed' })).toBe(-0.3);
    expect(computeReward(clean, seed, { mrState: 'open' })).toBe(4.2);
    expect(computeReward(clean, seed)).toBe(4.2);
    // What speaks against it still counts in full.
    expect(computeReward(worst, seed, { mrState: 'closed' })).toBe(-5);
  });
});

describe('checkComponents', () => {
  it('accepts every bound of every range', () => {
    expect(() => checkComponents(perfect)).not.toThrow();
    expect(() => checkComponents(worst)).not.toThrow();
    expect(() => checkComponents(neutral)).not.toThrow();
  });

  it.each([
    ['test_coverage_delta', -1.01, 'test_coverage_delta must be between -1 and 1, got -1.01'],
    ['test_coverage_delta', 2, 'test_coverage_delta must be between -1 and 1, got 2'],
    ['lint_score', -0.1, 'lint_score must be between 0 and 1, got -0.1'],
    ['security_scan_score', 1.1, 'security_scan_score must be between 0 and 1, got 1.1'],
    ['code_complexity_delta', -3, 'code_complexity_delta must be between -1 and 1, got -3'],
    ['ci_pipeline_status', 0.5, 'ci_pipeline_status must be 0 or 1, got 0.5'],
    ['ci_pipeline_status', 2, 'ci_pipeline_status must be 0 or 1, got 2'],
    ['ci_pipeline_status', -1, 'ci_pipeline_status must be 0 or 1, got -1'],
    ['review_feedback_score', 1.5, 'review_feedback_score must be between -1 and 1, got 1.5'],
    ['lint_score', Number.NaN, 'lint_score must be between 0 and 1, got NaN'],
    ['review_feedback_score', Number.POSITIVE_INFINITY, 'review_feedback_score must be between -1 and 1, got Infinity'],
  ] as const)('rejects %s = %s, naming it', (name, value, message) => {
    const c = { ...neutral, [name]: value };
    expect(() => checkComponents(c)).toThrow(RangeError);
    expect(() => checkComponents(c)).toThrow(message);
  });

  it('names the first bad component in the seed order', () => {
    expect(() => checkComponents({ ...neutral, review_feedback_score: 9, lint_score: 9 })).toThrow(/^lint_score /);
  });

  it('has one spec per component, each bound to a weight key', () => {
    expect(componentNames).toEqual([
      'test_coverage_delta',
      'lint_score',
      'security_scan_score',
      'code_complexity_delta',
      'ci_pipeline_status',
      'review_feedback_score',
    ]);
    expect(new Set(componentNames.map((n) => componentSpec[n].weight))).toEqual(new Set(Object.keys(seed)));
  });
});

describe('parseComponentArgs', () => {
  const all = [
    'test_coverage_delta=0.5',
    'lint_score=1',
    'security_scan_score=0.75',
    'code_complexity_delta=-0.25',
    'ci_pipeline_status=1',
    'review_feedback_score=-1',
  ];

  it('parses all six name=value pairs', () => {
    expect(parseComponentArgs(all)).toEqual({
      test_coverage_delta: 0.5,
      lint_score: 1,
      security_scan_score: 0.75,
      code_complexity_delta: -0.25,
      ci_pipeline_status: 1,
      review_feedback_score: -1,
    });
  });

  it('accepts the pairs in any order', () => {
    expect(parseComponentArgs([...all].reverse())).toEqual(parseComponentArgs(all));
  });

  it('does not range-check (computeReward does)', () => {
    expect(parseComponentArgs(all.map((p) => (p.startsWith('lint') ? 'lint_score=7' : p))).lint_score).toBe(7);
  });

  const fail = (pairs: string[]): string => {
    try {
      parseComponentArgs(pairs);
    } catch (error) {
      expect(error).toBeInstanceOf(RewardError);
      return (error as Error).message;
    }
    throw new Error('expected a RewardError');
  };

  it('rejects a pair without "="', () => {
    expect(fail(['lint_score', ...all.slice(2)])).toBe('--component "lint_score": expected name=value');
    expect(fail(['lint_score=', ...all.slice(2)])).toBe('--component "lint_score=": expected name=value');
  });

  it('rejects an unknown component and lists the known ones', () => {
    expect(fail([...all, 'coverage=1'])).toBe(
      '--component "coverage=1": unknown component "coverage" (expected one of test_coverage_delta, lint_score, security_scan_score, code_complexity_delta, ci_pipeline_status, review_feedback_score)',
    );
  });

  it('rejects a component given twice', () => {
    expect(fail([...all, 'lint_score=0'])).toBe('--component lint_score given twice');
  });

  it('rejects a value that is not a number', () => {
    expect(fail(['lint_score=abc', ...all.slice(2)])).toBe('--component "lint_score=abc": "abc" is not a number');
    expect(fail(['lint_score= ', ...all.slice(2)])).toBe('--component "lint_score= ": " " is not a number');
    expect(fail(['lint_score=Infinity', ...all.slice(2)])).toBe('--component "lint_score=Infinity": "Infinity" is not a number');
  });

  it('lists every missing component', () => {
    expect(fail(all.slice(0, 4))).toBe('missing --component for: ci_pipeline_status, review_feedback_score');
    expect(fail([])).toBe(`missing --component for: ${componentNames.join(', ')}`);
  });
});
