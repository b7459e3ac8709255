/** What the dashboard shows, read from the store in one go; the page renders it purely. */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import { leaderboardView, type LeaderboardEntry } from '../api/views.js';
import { histogram, type HistogramBin } from '../metrics/summary.js';
import { listAgents } from '../store/agents.js';
import type { Database, TaskRow, TierHistoryRow } from '../store/schema.js';
import { countByStatus, settledRewardsWithType, taskPage, tierHistory, usageBy, type UsageRow } from '../store/stats.js';

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
}

export async function dashboardData(db: Kysely<Database>, _config: Pick<Config, 'tiers'>, now = new Date()): Promise<DashboardData> {
  const [agents, settled, page, taskCounts, tierChanges, usageByAgent, usageByType] = await Promise.all([
    listAgents(db),
    settledRewardsWithType(db),
    taskPage(db, {}, { limit: 15, offset: 0 }),
    countByStatus(db, 'tasks'),
    tierHistory(db),
    usageBy(db, 'agent'),
    usageBy(db, 'type'),
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
  };
}
