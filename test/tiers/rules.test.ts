import { describe, expect, it } from 'vitest';
import { decideTier, rollingAverage, tierForAverage, type Thresholds } from '../../src/tiers/rules.js';

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

describe('decideTier', () => {
  it('decides by the rolling average of the last N rewards', () => {
    // Twelve rewards: two bad old ones fall out of a window of 10.
    const d = decideTier({ current: 'junior', override: null, rewards: rewards(-5, -5, ...Array(10).fill(4)), thresholds: seed });
    expect(d).toEqual({ tier: 'principal', rollingAvg: 4, override: null, reason: 'rolling average 4.00 over the last 10 rewards → principal' });
    const wide = decideTier({
      current: 'junior',
      override: null,
      rewards: rewards(-5, -5, ...Array(10).fill(4)),
      thresholds: { ...seed, evaluation_window: 12 },
    });
    expect(wide.tier).toBe('senior');
    expect(wide.rollingAvg).toBe(2.5);
    expect(wide.reason).toBe('rolling average 2.50 over the last 12 rewards → senior');
  });

  it('counts fewer rewards than the window as they are', () => {
    const d = decideTier({ current: 'senior', override: null, rewards: rewards(1, 2), thresholds: seed });
    expect(d.tier).toBe('junior');
    expect(d.reason).toBe('rolling average 1.50 over the last 2 rewards → junior');
  });

  it.each([
    [[4, 4], 'principal'],
    [[2, 2], 'senior'],
    [[0, 0], 'junior'],
    [[0, -0.02], 'suspended'],
  ] as const)('boundary rewards %j → %s', (values, tier) => {
    expect(decideTier({ current: 'senior', override: null, rewards: rewards(...values), thresholds: seed }).tier).toBe(tier);
  });

  it('keeps the current tier when there are no rewards', () => {
    for (const current of ['junior', 'senior', 'principal', 'suspended'] as const) {
      const d = decideTier({ current, override: null, rewards: [], thresholds: seed });
      expect(d).toEqual({ tier: current, rollingAvg: 0, override: null, reason: 'no final rewards yet' });
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

  it('holds a manual promotion until a reward newer than it, then lets the rewards decide', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:05:30.000Z' } as const;
    const old = rewards(1, 1, 1, 1, 1, 1); // 10:00 … 10:05, all before the promotion
    const held = decideTier({ current: 'senior', override, rewards: old, thresholds: seed });
    expect(held).toEqual({
      tier: 'senior',
      rollingAvg: 1,
      override,
      reason: 'manual promotion since 2025-08-12T10:05:30.000Z holds until the next reward',
    });

    const newer = rewards(1, 1, 1, 1, 1, 1, 1); // the seventh, at 10:06, is after the promotion
    const decided = decideTier({ current: 'senior', override, rewards: newer, thresholds: seed });
    expect(decided.tier).toBe('junior');
    expect(decided.override).toBeNull();
    expect(decided.reason).toBe('rolling average 1.00 over the last 7 rewards → junior');
  });

  it('lets a reward newer than a promotion confirm a higher tier too', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:00:30.000Z' } as const;
    const d = decideTier({ current: 'principal', override, rewards: rewards(1, 5), thresholds: seed });
    expect(d.tier).toBe('senior');
    expect(d.rollingAvg).toBe(3);
    expect(d.override).toBeNull();
  });

  it('does not count a reward at the very instant of the promotion as newer', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:00:00.000Z' } as const;
    expect(decideTier({ current: 'senior', override, rewards: rewards(0), thresholds: seed }).tier).toBe('senior');
  });

  it('holds a manual promotion with no rewards at all', () => {
    const override = { kind: 'promoted', since: '2025-08-12T10:00:00.000Z' } as const;
    const d = decideTier({ current: 'principal', override, rewards: [], thresholds: seed });
    expect(d.tier).toBe('principal');
    expect(d.override).toEqual(override);
  });
});
