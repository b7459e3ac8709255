import { describe, expect, it } from 'vitest';
import type { MeanBounds } from '../../src/routing/posterior.js';
import { decideTier, rollingAverage, tierForAverage, tierForBounds, type Thresholds } from '../../src/tiers/rules.js';

const seed: Thresholds = { promotion_threshold: 4.0, demotion_threshold: 2.0, suspension_threshold: 0.0, evaluation_window: 10 };

/** Rewards one minute apart, oldest first, starting at 10:00. */
const rewards = (...values: number[]) =>
  values.map((value, i) => ({ value, at: `2025-08-12T10:${String(i).padStart(2, '0')}:00.000Z` }));

describe('tierForAverage', () => {
  it.each([
    [5, 'principal'],
    [4.0, 'principal'],
    [3.9999, 'senior'],
    [2.0, 'senior'],
    [1.9999, 'junior'],
    [0, 'junior'],
    [-0.01, 'suspended'],
    [-5, 'suspended'],
  ] as const)('%s → %s', (avg, tier) => {
    expect(tierForAverage(avg, seed)).toBe(tier);
  });

  it('follows custom thresholds', () => {
    const strict: Thresholds = { promotion_threshold: 4.5, demotion_threshold: 3, suspension_threshold: 1, evaluation_window: 5 };
    expect(tierForAverage(4.4, strict)).toBe('senior');
    expect(tierForAverage(2.9, strict)).toBe('junior');
    expect(tierForAverage(0.5, strict)).toBe('suspended');
  });
});

describe('rollingAverage', () => {
  it('averages the newest N values only', () => {
    expect(rollingAverage([-5, -5, 4, 4, 4], 3)).toBe(4);
    expect(rollingAverage([1, 2, 3, 4], 10)).toBe(2.5);
    expect(rollingAverage([4, 4, 4, -5], 2)).toBe(-0.5);
  });

  it('is null with no values and rounds to 4 decimals', () => {
    expect(rollingAverage([], 10)).toBeNull();
    expect(rollingAverage([1, 1, 2], 3)).toBe(1.3333);
  });
});

const bounds = (mean: number, halfWidth: number, n = 10): MeanBounds => ({ n, mean, lower: mean - halfWidth, upper: mean + halfWidth, halfWidth });

describe('tierForBounds: up on the lower bound, down on the upper bound less the margin', () => {
  it.each([
    ['junior', bounds(3, 0.9), 'senior'], // lower 2.1 clears 2
    ['junior', bounds(3, 1.1), 'junior'], // lower 1.9 does not
    ['junior', bounds(4.6, 0.5), 'principal'], // lower 4.1 clears both thresholds at once
    ['senior', bounds(4.2, 0.3), 'senior'], // lower 3.9
    ['suspended', bounds(0.5, 0.4), 'junior'], // lower 0.1 clears 0
    ['suspended', bounds(0.5, 0.6), 'suspended'],
  ] as const)('%s with %j → %s', (current, b, tier) => {
    expect(tierForBounds(current, b, seed).tier).toBe(tier);
  });

  it('holds a tier while the upper bound stays within the margin under its threshold (hysteresis)', () => {
    expect(tierForBounds('senior', bounds(1.5, 0.3), seed).tier).toBe('senior'); // upper 1.80 ≥ 1.75
    expect(tierForBounds('senior', bounds(1.4, 0.3), seed).tier).toBe('junior'); // upper 1.70 < 1.75
    expect(tierForBounds('principal', bounds(3.5, 0.3), seed).tier).toBe('principal'); // 3.80 ≥ 3.75
    expect(tierForBounds('principal', bounds(3.4, 0.3), seed).tier).toBe('senior');
    // The margin is configurable; with none, the threshold itself.
    expect(tierForBounds('senior', bounds(1.5, 0.3), { ...seed, hysteresis: 0 }).tier).toBe('junior');
  });

  it('falls as far as the upper bound says, in one step', () => {
    expect(tierForBounds('principal', bounds(1, 0.5), seed)).toEqual({
      tier: 'junior',
      reason: 'mean 1.00 ± 0.50 (n=10): upper bound 1.50 under 3.75 (principal less the 0.25 margin) → junior',
    });
    expect(tierForBounds('principal', bounds(-2, 0.5), seed).tier).toBe('suspended');
  });

  it('never suspends on fewer than suspension_min_rewards outcomes', () => {
    expect(tierForBounds('junior', bounds(-3, 0.5, 4), seed)).toEqual({ tier: 'junior', reason: 'mean -3.00 ± 0.50 (n=4): not suspended on fewer than 5 outcomes' });
    expect(tierForBounds('principal', bounds(-3, 0.5, 4), seed).tier).toBe('junior');
    expect(tierForBounds('junior', bounds(-3, 0.5, 5), seed).tier).toBe('suspended');
    expect(tierForBounds('junior', bounds(-3, 0.5, 2), { ...seed, suspension_min_rewards: 2 }).tier).toBe('suspended');
  });

  it('says why a tier holds', () => {
    expect(tierForBounds('senior', bounds(3, 0.5), seed).reason).toBe('mean 3.00 ± 0.50 (n=10): senior holds');
  });
});

describe('decideTier', () => {
  it('widens the bounds on few rewards: one perfect reward makes a junior senior, three make it principal', () => {
    expect(decideTier({ current: 'junior', override: null, rewards: rewards(5), thresholds: seed })).toMatchObject({
      tier: 'senior',
      reason: 'mean 5.00 ± 2.01 (n=1): lower bound 2.99 clears 2.00 → senior',
    });
    expect(decideTier({ current: 'junior', override: null, rewards: rewards(5, 5), thresholds: seed }).tier).toBe('senior');
    expect(decideTier({ current: 'junior', override: null, rewards: rewards(5, 5, 5), thresholds: seed }).tier).toBe('principal');
  });

  it('keeps the rolling average of the last N rewards, and decides on every outcome', () => {
    const d = decideTier({ current: 'junior', override: null, rewards: rewards(-5, -5, ...Array(10).fill(4)), thresholds: seed });
    expect(d.rollingAvg).toBe(4);
    expect(d.bounds).toMatchObject({ n: 12, mean: 2.5 });
    // 2.50 ± 1.50: the two bad rewards keep the lower bound at 1.00, under 2.
    expect(d.tier).toBe('junior');
  });

  it('decides on the evidence when given: failed runs count, at their reward', () => {
    // Four good rewards, and four failed runs at 0: a mean of 2, not 4.5.
    const totals = { n: 8, sum: 18, sumSq: 81 };
    const d = decideTier({
      current: 'principal',
      override: null,
      rewards: rewards(4.5, 4.5, 4.5, 4.5),
      evidence: { totals, lastAt: '2025-08-12T11:00:00.000Z' },
      thresholds: seed,
    });
    expect(d.rollingAvg).toBe(4.5);
    expect(d.bounds!.mean).toBe(2.25);
    expect(d.tier).toBe('senior');
  });

  it('keeps the current tier when there are no outcomes', () => {
    for (const current of ['junior', 'senior', 'principal', 'suspended'] as const) {
      const d = decideTier({ current, override: null, rewards: [], thresholds: seed });
      expect(d).toEqual({ tier: current, rollingAvg: 0, override: null, reason: 'no settled outcomes yet', bounds: null });
    }
  });

  it('holds a manual suspension whatever the rewards say', () => {
    const override = { kind: 'suspended', since: '2025-08-12T09:00:00.000Z' } as const;
    const d = decideTier({ current: 'suspended', override, rewards: rewards(5, 5, 5, 5), thresholds: seed });
    expect(d.tier).toBe('suspended');
    expect(d.rollingAvg).toBe(5);
    expect(d.override).toEqual(override);
    expect(d.reason).toBe('manual suspension since 2025-08-12T09:00:00.000Z holds');
    // Also with no rewards at all, and even if the stored tier somehow says otherwise.
    expect(decideTier({ current: 'principal', override, rewards: [], thresholds: seed }).tier).toBe('suspended');
  });

  it('holds a manual promotion until an outcome newer than it, then lets the evidence decide', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:05:30.000Z' } as const;
    const old = rewards(1, 1, 1, 1, 1, 1); // 10:00 … 10:05, all before the promotion
    const held = decideTier({ current: 'senior', override, rewards: old, thresholds: seed });
    expect(held).toMatchObject({
      tier: 'senior',
      rollingAvg: 1,
      override,
      reason: 'manual promotion since 2025-08-12T10:05:30.000Z holds until the next reward',
    });

    const newer = rewards(1, 1, 1, 1, 1, 1, 1); // the seventh, at 10:06, is after the promotion
    const decided = decideTier({ current: 'senior', override, rewards: newer, thresholds: seed });
    expect(decided.override).toBeNull();
    expect(decided.tier).toBe('junior');
    expect(decided.reason).toBe('mean 1.00 ± 0.44 (n=7): upper bound 1.44 under 1.75 (senior less the 0.25 margin) → junior');
  });

  it('does not count an outcome at the very instant of the promotion as newer', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:00:00.000Z' } as const;
    expect(decideTier({ current: 'senior', override, rewards: rewards(-5, -5, -5, -5, -5).slice(0, 1), thresholds: seed }).override).toEqual(override);
  });

  it('holds a manual promotion with no rewards at all', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:00:00.000Z' } as const;
    const d = decideTier({ current: 'principal', override, rewards: [], thresholds: seed });
    expect(d.tier).toBe('principal');
    expect(d.override).toEqual(override);
  });
});
