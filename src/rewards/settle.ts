/**
 * Whether an evaluation writes the attempt's reward, as a pure decision over the stored row and
 * the newly computed values:
 * - a settled reward (final or manual) is never rewritten: what a later event says is evidence
 *   for the audit log only;
 * - an evaluation that computes what is stored writes nothing (no `updated_at` stamp);
 * - otherwise the row is written, and settles (gets its one `settled_at`) when it becomes final.
 *
 * ```ts
 * decideRewardWrite(undefined, next)                 // { kind: 'insert', settles: next.kind !== 'provisional' }
 * decideRewardWrite({ ...final }, { ...final })       // { kind: 'settled', differs: false }
 * ```
 */
import type { MergeRequestState, RewardKind } from '../store/schema.js';

export interface RewardValues {
  reward: number;
  components: Record<string, number>;
  weights: Record<string, number>;
  evaluatorVersion: string;
  kind: RewardKind;
  degraded: boolean;
  /** A guard flagged the change (policy/guards.ts): CI, coverage and lint took their defaults. */
  guarded?: boolean;
  mrNumber: number | null;
  mrState: MergeRequestState | null;
}

/** The part of a stored reward row the decision reads. */
export interface StoredReward {
  reward: number;
  components: string;
  weights: string;
  evaluator_version: string;
  kind: RewardKind;
  degraded: number;
  guarded: number;
  mr_number: number | null;
  mr_state: MergeRequestState | null;
  settled_at: string | null;
}

export type RewardWrite =
  | { kind: 'insert'; settles: boolean }
  | { kind: 'update'; settles: boolean }
  | { kind: 'unchanged' }
  /** The stored reward is settled and stands; `differs` says whether the new values disagree. */
  | { kind: 'settled'; differs: boolean };

export const isSettledKind = (kind: RewardKind): boolean => kind !== 'provisional';

/** Whether the stored row already says exactly what `next` says. */
export function sameReward(stored: StoredReward, next: RewardValues): boolean {
  return (
    stored.reward === next.reward &&
    stored.components === JSON.stringify(next.components) &&
    stored.weights === JSON.stringify(next.weights) &&
    stored.evaluator_version === next.evaluatorVersion &&
    stored.kind === next.kind &&
    stored.degraded === (next.degraded ? 1 : 0) &&
    stored.guarded === (next.guarded ? 1 : 0) &&
    stored.mr_number === next.mrNumber &&
    stored.mr_state === next.mrState
  );
}

export function decideRewardWrite(stored: StoredReward | undefined, next: RewardValues): RewardWrite {
  const settles = isSettledKind(next.kind);
  if (!stored) return { kind: 'insert', settles };
  if (stored.settled_at !== null || isSettledKind(stored.kind)) return { kind: 'settled', differs: !sameReward(stored, next) };
  if (sameReward(stored, next)) return { kind: 'unchanged' };
  return { kind: 'update', settles };
}
