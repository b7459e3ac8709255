/** What the dashboard shows, read from the store in one go; the page renders it purely. */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import { leaderboardView, type LeaderboardEntry } from '../api/views.js';
import { histogram, type HistogramBin } from '../metrics/summary.js';
import { listAgents } from '../store/agents.js';
import type { Database, TaskRow, TierHistoryRow } from '../store/schema.js';
import { countByStatus, endedRunsWithTier, settledRewardsWithType, taskPage, tierHistory, usageBy, type UsageRow } from '../store/stats.js';

export interface DashboardData {
  generatedAt: string;
  leaderboard: LeaderboardEntry[];
  tasks: TaskRow[];
  taskCounts: Record<string, number>;
  rewardBins: HistogramBin[];
  rewardCount: number;
  tierChanges: TierHistoryRow[];
  usageByAgent: UsageRow[];
  usageByType: UsageRow[];
  completion: TierCompletion[];
}

/** How a tier's runs ended: `budget` is a timeout or a token limit, `other` a cancellation or an interruption. */
export interface TierCompletion {
  tier: string;
  runs: number;
  completed: number;
  failed: number;
  budget: number;
  other: number;
  /** completed / runs; null without runs. */
  rate: number | null;
}

const tierOrder = ['principal', 'senior', 'junior', 'suspended'];

/** Pure: the seed's "task completion rates by agent tier", from the runs that ended. */
export function completionByTier(runs: readonly { outcome: string; tier: string }[]): TierCompletion[] {
  return tierOrder.map((tier) => {
    const mine = runs.filter((r) => r.tier === tier);
    const count = (...outcomes: string[]) => mine.filter((r) => outcomes.includes(r.outcome)).length;
    const completed = count('success');
    const failed = count('failed');
    const budget = count('timeout', 'token_limit');
    return { tier, runs: mine.length, completed, failed, budget, other: mine.length - completed - failed - budget, rate: mine.length === 0 ? null : completed / mine.length };
  });
}

export async function dashboardData(db: Kysely<Database>, _config: Pick<Config, 'tiers'>, now = new Date()): Promise<DashboardData> {
  const [agents, settled, page, taskCounts, tierChanges, usageByAgent, usageByType, ended] = await Promise.all([
    listAgents(db),
    settledRewardsWithType(db),
    taskPage(db, {}, { limit: 15, offset: 0 }),
    countByStatus(db, 'tasks'),
    tierHistory(db),
    usageBy(db, 'agent'),
    usageBy(db, 'type'),
    endedRunsWithTier(db),
  ]);
  return {
    generatedAt: now.toISOString(),
    leaderboard: leaderboardView(agents, settled, 'reward'),
    tasks: page.tasks,
    taskCounts,
    rewardBins: histogram(settled.map((r) => r.reward)),
    rewardCount: settled.length,
    // An agent's first row (from its file) records a tier, not a change.
    tierChanges: tierChanges.filter((c) => c.from_tier !== c.to_tier),
    usageByAgent,
    usageByType,
    completion: completionByTier(ended),
  };
}
