/**
 * Tier rules: the seed's thresholds, read as confidence. An agent's settled outcomes (final
 * and manual rewards, and failed runs at `[routing] failed_run_reward`) give its mean with
 * bounds `confidence` standard errors wide (routing/posterior.ts):
 * - it moves up to the highest tier whose threshold its LOWER bound clears;
 * - it moves down only when its UPPER bound falls `hysteresis` under its tier's threshold,
 *   to the highest tier whose threshold (less the margin) the upper bound still reaches;
 * - rewards never suspend an agent with fewer than `suspension_min_rewards` outcomes.
 * A few lucky or unlucky rewards move nothing; a long record moves it where it belongs, and
 * an agent near a threshold does not flap across it.
 *
 * How an operator's overrides interact with them:
 * - a manual suspension holds whatever the rewards say, until an operator lifts it;
 * - a manual promotion holds until the agent's next settled outcome, which decides again.
 *
 * "Next" is by the outcome's settle stamp (`settled_at`, or the failed run's end), stamped
 * once, against the promotion's own stamp. An outcome settled in the same millisecond as the
 * promotion counts as before it: the order of the two cannot be told from the stamps, and an
 * operator's decision is not undone by an outcome that cannot be shown to come after it.
 * `rollingAvg` stays the seed's rolling average of the last `evaluation_window` rewards,
 * ordered by (`settled_at`, `id`), for the scoreboard; it decides nothing.
 */
import type { Tier } from '../config/schema.js';
import { addOutcome, emptyTotals, formatBounds, meanBounds, type MeanBounds, type Totals } from '../routing/posterior.js';

export interface Thresholds {
  promotion_threshold: number;
  demotion_threshold: number;
  suspension_threshold: number;
  evaluation_window: number;
  /** Standard errors each bound reaches (default 1.645). */
  confidence?: number;
  /** Margin under a tier's threshold before the agent leaves it (default 0.25). */
  hysteresis?: number;
  /** Outcomes needed before rewards may suspend (default 5). */
  suspension_min_rewards?: number;
}

/** The prior spread of one outcome and its weight, as `[routing]` sets them. */
export interface OutcomePrior {
  sd: number;
  weight: number;
}

export const defaultOutcomePrior: OutcomePrior = { sd: 1.5, weight: 2 };

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

const ladder: readonly Tier[] = ['suspended', 'junior', 'senior', 'principal'];

/** The threshold a tier stands on; suspended stands on nothing. */
function floorOf(tier: Tier, t: Thresholds): number {
  if (tier === 'principal') return t.promotion_threshold;
  if (tier === 'senior') return t.demotion_threshold;
  if (tier === 'junior') return t.suspension_threshold;
  return -Infinity;
}

export interface BoundsDecision {
  tier: Tier;
  reason: string;
}

const f2 = (n: number): string => n.toFixed(2);

/** The confidence rule alone (see the header), from the current tier and the bounds. */
export function tierForBounds(current: Tier, b: MeanBounds, t: Thresholds): BoundsDecision {
  const margin = t.hysteresis ?? 0.25;
  const minRewards = t.suspension_min_rewards ?? 5;
  const shown = `mean ${formatBounds(b)}`;
  const rank = ladder.indexOf(current);
  let up = rank;
  while (up < ladder.length - 1 && b.lower >= floorOf(ladder[up + 1]!, t)) up++;
  if (up > rank) {
    const to = ladder[up]!;
    return { tier: to, reason: `${shown}: lower bound ${f2(b.lower)} clears ${f2(floorOf(to, t))} → ${to}` };
  }
  if (rank > 0 && b.upper < floorOf(current, t) - margin) {
    let down = rank - 1;
    while (down > 0 && b.upper < floorOf(ladder[down]!, t) - margin) down--;
    if (down === 0 && b.n < minRewards) {
      if (rank === 1) return { tier: current, reason: `${shown}: not suspended on fewer than ${minRewards} outcomes` };
      down = 1;
    }
    const to = ladder[down]!;
    const below = floorOf(current, t) - margin;
    return { tier: to, reason: `${shown}: upper bound ${f2(b.upper)} under ${f2(below)} (${current} less the ${f2(margin)} margin) → ${to}` };
  }
  return { tier: current, reason: `${shown}: ${current} holds` };
}

export interface TierInput {
  current: Tier;
  override: Override;
  /** Settled rewards in the order they settled (oldest first), with when each settled: the rolling average. */
  rewards: readonly { value: number; at: string }[];
  /**
   * Every settled outcome (rewards and failed runs): their totals and the newest stamp. When
   * absent, the rewards above are the whole record.
   */
  evidence?: { totals: Totals; lastAt: string | null };
  thresholds: Thresholds;
  prior?: OutcomePrior;
}

export interface TierDecision {
  tier: Tier;
  rollingAvg: number;
  /** The override after this decision (a promotion is consumed by a newer outcome). */
  override: Override;
  reason: string;
  /** The mean and its bounds the decision read; null with no outcomes. */
  bounds: MeanBounds | null;
}

function evidenceOf(input: TierInput): { totals: Totals; lastAt: string | null } {
  if (input.evidence) return input.evidence;
  const totals = emptyTotals();
  let lastAt: string | null = null;
  for (const r of input.rewards) {
    addOutcome(totals, r.value);
    if (lastAt === null || r.at > lastAt) lastAt = r.at;
  }
  return { totals, lastAt };
}

export function decideTier(input: TierInput): TierDecision {
  const { current, override, rewards, thresholds } = input;
  const rollingAvg = rollingAverage(rewards.map((r) => r.value), thresholds.evaluation_window) ?? 0;
  const { totals, lastAt } = evidenceOf(input);
  const bounds = meanBounds(totals, input.prior ?? defaultOutcomePrior, thresholds.confidence ?? 1.645);

  if (override?.kind === 'suspended') {
    return { tier: 'suspended', rollingAvg, override, reason: `manual suspension since ${override.since} holds`, bounds };
  }
  if (!bounds) return { tier: current, rollingAvg, override, reason: 'no settled outcomes yet', bounds };
  // Strictly after: an outcome settled in the promotion's millisecond does not consume it (see above).
  if (override?.kind === 'promoted' && !(lastAt !== null && lastAt > override.since)) {
    return { tier: current, rollingAvg, override, reason: `manual promotion since ${override.since} holds until the next reward`, bounds };
  }
  const { tier, reason } = tierForBounds(current, bounds, thresholds);
  return { tier, rollingAvg, override: null, reason, bounds };
}
