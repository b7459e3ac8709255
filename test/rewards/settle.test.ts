import { describe, expect, it } from 'vitest';
import { decideRewardWrite, type RewardValues, type StoredReward } from '../../src/rewards/settle.js';

const next: RewardValues = {
  reward: 2.5,
  components: { ci_pipeline_status: 1 },
  weights: { ci_status: 0.1 },
  evaluatorVersion: '1.0.0',
  kind: 'provisional',
  degraded: false,
  mrNumber: 2,
  mrState: 'open',
};
const stored = (over: Partial<StoredReward> = {}): StoredReward => ({
  reward: 2.5,
  components: '{"ci_pipeline_status":1}',
  weights: '{"ci_status":0.1}',
  evaluator_version: '1.0.0',
  kind: 'provisional',
  degraded: 0,
  guarded: 0,
  mr_number: 2,
  mr_state: 'open',
  settled_at: null,
  ...over,
});
const final = { kind: 'final', mr_state: 'merged', settled_at: '2025-08-12T10:00:00.000Z' } as const;

describe('decideRewardWrite', () => {
  it.each([
    ['no row yet, provisional', undefined, next, { kind: 'insert', settles: false }],
    ['no row yet, final', undefined, { ...next, kind: 'final', mrState: 'merged' }, { kind: 'insert', settles: true }],
    ['the same provisional values', stored(), next, { kind: 'unchanged' }],
    ['a provisional reward that moved', stored(), { ...next, reward: 3 }, { kind: 'update', settles: false }],
    ['only the degraded flag moved', stored(), { ...next, degraded: true }, { kind: 'update', settles: false }],
    ['the MR was merged', stored(), { ...next, kind: 'final', mrState: 'merged' }, { kind: 'update', settles: true }],
    ['a copy of the merge event', stored(final), { ...next, kind: 'final', mrState: 'merged' }, { kind: 'settled', differs: false }],
    ['a late pipeline after the merge', stored(final), { ...next, reward: 1.85, kind: 'final', mrState: 'merged' }, { kind: 'settled', differs: true }],
    ['a reopen after the close', stored({ ...final, mr_state: 'closed' }), next, { kind: 'settled', differs: true }],
    ['a manual reward stands', stored({ kind: 'manual', mr_state: null, mr_number: null, settled_at: '2025-08-12T10:00:00.000Z' }), next, { kind: 'settled', differs: true }],
  ] as const)('%s', (_name, row, values, expected) => {
    expect(decideRewardWrite(row, values as RewardValues)).toEqual(expected);
  });
});
