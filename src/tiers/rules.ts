/**
 * Tier rules: the seed's thresholds over the rolling average of an agent's last N final
 * rewards, and how an operator's overrides interact with them:
 * - a manual suspension holds whatever the rewards say, until an operator lifts it;
 * - a manual promotion holds until the agent's next final reward, which decides again.
 *
 * "Next" is by the reward's `settled_at`, stamped once when it settled (never by a later
 * re-evaluation), against the promotion's own stamp. A reward settled in the same millisecond
 * as the promotion counts as before it: the order of the two cannot be told from the stamps,
 * and an operator's decision is not undone by a reward that cannot be shown to come after it.
 * The window itself is ordered by (`settled_at`, `id`), the same in the live and nightly reads.
 */
import type { Tier } from '../config/schema.js';

export interface Thresholds {
  promotion_threshold: number;
  demotion_threshold: number;
  suspension_threshold: number;
  evaluation_window: number;
}

export type Override = { kind: 'suspended' | 'promoted'; since: string } | null;

export function tierForAverage(avg: number, t: Thresholds): Tier {
  if (avg >= t.promotion_threshold) return 'principal';
  if (avg >= t.demotion_threshold) return 'senior';
  if (avg >= t.suspension_threshold) return 'junior';
  return 'suspended';
}

/** Mean of the newest `window` values (input oldest first); null when there are none. */
export function rollingAverage(values: readonly number[], window: number): number | null {
  const recent = values.slice(-window);
  if (recent.length === 0) return null;
  const avg = recent.reduce((a, b) => a + b, 0) / recent.length;
  return Math.round(avg * 10_000) / 10_000;
}

export interface TierInput {
  current: Tier;
  override: Override;
  /** Settled rewards in the order they settled (oldest first), with when each settled. */
  rewards: readonly { value: number; at: string }[];
  thresholds: Thresholds;
}

export interface TierDecision {
  tier: Tier;
  rollingAvg: number;
  /** The override after this decision (a promotion is consumed by a newer reward). */
  override: Override;
  reason: string;
}

export function decideTier(input: TierInput): TierDecision {
  const { current, override, rewards, thresholds } = input;
  const values = rewards.map((r) => r.value);
  const avg = rollingAverage(values, thresholds.evaluation_window);
  const rollingAvg = avg ?? 0;
  const window = Math.min(values.length, thresholds.evaluation_window);

  if (override?.kind === 'suspended') {
    return { tier: 'suspended', rollingAvg, override, reason: `manual suspension since ${override.since} holds` };
  }
  if (avg === null) {
    return { tier: current, rollingAvg, override, reason: 'no final rewards yet' };
  }
  // Strictly after: a reward settled in the promotion's millisecond does not consume it (see above).
  if (override?.kind === 'promoted' && !rewards.some((r) => r.at > override.since)) {
    return { tier: current, rollingAvg, override, reason: `manual promotion since ${override.since} holds until the next reward` };
  }
  const tier = tierForAverage(avg, thresholds);
  return {
    tier,
    rollingAvg,
    override: null,
    reason: `rolling average ${avg.toFixed(2)} over the last ${window} rewards → ${tier}`,
  };
}
