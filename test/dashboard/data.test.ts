import { describe, expect, it } from 'vitest';
import { completionByTier } from '../../src/dashboard/data.js';

describe('completionByTier (the seed: task completion rates by agent tier)', () => {
  it('counts every tier, in tier order, with its share completed', () => {
    const runs = [
      { outcome: 'success', tier: 'senior' },
      { outcome: 'failed', tier: 'senior' },
      { outcome: 'timeout', tier: 'senior' },
      { outcome: 'token_limit', tier: 'junior' },
      { outcome: 'interrupted', tier: 'junior' },
      { outcome: 'success', tier: 'principal' },
    ];
    expect(completionByTier(runs)).toEqual([
      { tier: 'principal', runs: 1, completed: 1, failed: 0, budget: 0, other: 0, rate: 1 },
      { tier: 'senior', runs: 3, completed: 1, failed: 1, budget: 1, other: 0, rate: 1 / 3 },
      { tier: 'junior', runs: 2, completed: 0, failed: 0, budget: 1, other: 1, rate: 0 },
      { tier: 'suspended', runs: 0, completed: 0, failed: 0, budget: 0, other: 0, rate: null },
    ]);
  });
});
