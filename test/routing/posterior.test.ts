import { describe, expect, it } from 'vitest';
import {
  addOutcome,
  agentPosterior,
  emptyTotals,
  formatBounds,
  gaussian,
  meanBounds,
  noiseVariance,
  seededRandom,
  typeMeanSd,
  typePosterior,
  type Totals,
} from '../../src/routing/posterior.js';

const prior = { mean: 1, sd: 1.5, weight: 2 };
const totals = (...values: number[]): Totals => values.reduce((t, v) => addOutcome(t, v), emptyTotals());

describe('sufficient statistics', () => {
  it('adds outcomes one at a time or several of one value at once', () => {
    expect(totals(1, 2, 3)).toEqual({ n: 3, sum: 6, sumSq: 14 });
    expect(addOutcome(emptyTotals(), 0.5, 4)).toEqual(totals(0.5, 0.5, 0.5, 0.5));
  });

  it('estimates the spread from the outcomes, pulled toward the prior by its weight', () => {
    expect(noiseVariance(emptyTotals(), prior)).toBeCloseTo(2.25, 12);
    // Two equal rewards claim no certainty: (2 × 2.25 + 0) / 4.
    expect(noiseVariance(totals(3, 3), prior)).toBeCloseTo(1.125, 12);
    // Many spread-out outcomes dominate: the sample's own variance (population form) plus a little.
    const wide = totals(...Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? -3 : 3)));
    expect(noiseVariance(wide, prior)).toBeCloseTo((2 * 2.25 + 9000) / 1002, 9);
  });
});

describe('agentPosterior', () => {
  it('is the prior with no outcomes, and moves to the sample mean as they accumulate', () => {
    expect(agentPosterior(emptyTotals(), prior)).toEqual({ mean: 1, sd: Math.sqrt(2.25 / 2), n: 0, noiseSd: 1.5 });
    const one = agentPosterior(totals(4), prior);
    expect(one.mean).toBeCloseTo((2 * 1 + 4) / 3, 12);
    const many = agentPosterior(totals(...Array(200).fill(4)), prior);
    expect(many.mean).toBeCloseTo((2 + 800) / 202, 12);
    expect(many.sd).toBeLessThan(one.sd / 5);
  });
});

describe('typePosterior', () => {
  it('is the overall record, with extra spread, for a type with no outcomes', () => {
    const overall = agentPosterior(totals(3, 3, 3, 3), prior);
    const fresh = typePosterior(overall, emptyTotals(), 1);
    expect(fresh.mean).toBe(overall.mean);
    expect(fresh.sd).toBeCloseTo(Math.sqrt(overall.sd ** 2 + overall.noiseSd ** 2), 12);
  });

  it('is the Normal-Normal update of that prior by the type\'s outcomes', () => {
    const overall = agentPosterior(totals(4, 4, 1, 1, 1, 1), prior);
    const typed = totals(1, 1, 1, 1);
    const p = typePosterior(overall, typed, 2);
    const priorVar = overall.sd ** 2 + overall.noiseSd ** 2 / 2;
    const precision = 1 / priorVar + 4 / overall.noiseSd ** 2;
    expect(p.sd).toBeCloseTo(Math.sqrt(1 / precision), 12);
    expect(p.mean).toBeCloseTo((overall.mean / priorVar + 4 / overall.noiseSd ** 2) / precision, 12);
    expect(p.mean).toBeLessThan(overall.mean);
  });

  it('typeMeanSd computes the same without allocating', () => {
    for (const [all, typed] of [
      [totals(), undefined],
      [totals(2, 3, 4), totals(2)],
      [totals(-1, 5, 2, 2, 2), totals(5, 2)],
    ] as const) {
      const p = typePosterior(agentPosterior(all, prior), typed ?? emptyTotals(), 1.5);
      const out = { sd: 0 };
      expect(typeMeanSd(all, typed, prior, 1.5, out)).toBeCloseTo(p.mean, 12);
      expect(out.sd).toBeCloseTo(p.sd, 12);
    }
  });
});

describe('meanBounds', () => {
  it('is null with no outcomes, and z standard errors either side of the agent\'s own mean', () => {
    expect(meanBounds(emptyTotals(), prior, 1.645)).toBeNull();
    const b = meanBounds(totals(5, 5, 5), prior, 1.645)!;
    expect(b.mean).toBe(5);
    expect(b.halfWidth).toBeCloseTo(1.645 * Math.sqrt(4.5 / 5 / 3), 12);
    expect(b.lower).toBeCloseTo(5 - b.halfWidth, 12);
    expect(formatBounds(b)).toBe('5.00 ± 0.90 (n=3)');
    expect(formatBounds(null)).toBe('no outcomes yet');
  });

  it('narrows like 1/√n once the prior is outweighed', () => {
    const at = (n: number) => meanBounds(totals(...Array(n).fill(2)), prior, 2)!.halfWidth;
    // Equal outcomes: σ² = 2 × 2.25 / (2 + n), so the half-width is 2 · √(4.5 / ((2 + n) · n)).
    expect(at(400) / at(100)).toBeCloseTo(Math.sqrt((102 * 100) / (402 * 400)), 12);
  });
});

describe('seeded randomness', () => {
  it('repeats with the seed and draws standard normals', () => {
    const a = seededRandom(1);
    const b = seededRandom(1);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
    const rng = seededRandom(9);
    const xs = Array.from({ length: 20_000 }, () => gaussian(rng));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(variance).toBeGreaterThan(0.95);
    expect(variance).toBeLessThan(1.05);
  });
});
