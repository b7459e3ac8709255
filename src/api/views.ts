/** Pure: store rows as the REST API and the dashboard show them (the seed's field names). */
import type { Tier } from '../config/schema.js';
import { summarize, type RewardSummary } from '../metrics/summary.js';
import type { AgentRow, TaskRow, TaskStatus } from '../store/schema.js';
import type { KnownRepository, TypedReward } from '../store/stats.js';

export function taskView(t: TaskRow) {
  return {
    id: t.id,
    type: t.type,
    status: t.status as TaskStatus,
    assigned_agent: t.assigned_agent,
    created_at: t.created_at,
    completed_at: t.completed_at,
    metadata: {
      title: t.title,
      tags: JSON.parse(t.tags) as string[],
      priority: t.priority,
      description: t.description,
      constraints: { max_tokens: t.max_tokens, timeout_ms: t.timeout_ms },
    },
    outcome: { pr_url: t.pr_url, error_message: t.error_message, tokens_used: t.tokens_used, cost_usd: t.cost_usd, duration_ms: t.duration_ms },
    source: { forge: t.forge, repo: t.repo, issue_number: t.issue_number, issue_url: t.issue_url },
    pending_reason: t.pending_reason,
  };
}

export const successRate = (a: Pick<AgentRow, 'completed_tasks' | 'failed_tasks'>): number | null => {
  const finished = a.completed_tasks + a.failed_tasks;
  return finished === 0 ? null : a.completed_tasks / finished;
};

export function agentView(a: AgentRow) {
  return {
    name: a.name,
    tier: a.tier as Tier,
    specializations: JSON.parse(a.specializations) as string[],
    active: a.active === 1,
    manual_override: a.manual_override,
    created_at: a.created_at,
    performance: {
      rolling_avg_reward: a.rolling_avg,
      total_tasks: a.total_tasks,
      completed_tasks: a.completed_tasks,
      failed_tasks: a.failed_tasks,
      success_rate: successRate(a),
    },
  };
}

export type LeaderboardMetric = 'reward' | 'tasks' | 'success-rate';

export interface LeaderboardEntry {
  rank: number;
  name: string;
  tier: Tier;
  rolling_avg: number;
  total_tasks: number;
  success_rate: number | null;
  interval: RewardSummary;
}

/** The CLI's ranking (`doom leaderboard`), each agent with the interval of its settled rewards. */
export function leaderboardView(agents: readonly AgentRow[], settled: readonly TypedReward[], metric: LeaderboardMetric): LeaderboardEntry[] {
  const key = (a: AgentRow): number => (metric === 'reward' ? a.rolling_avg : metric === 'tasks' ? a.total_tasks : (successRate(a) ?? -1));
  const ranked = [...agents].sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name));
  return ranked.map((a, i) => ({
    rank: i + 1,
    name: a.name,
    tier: a.tier as Tier,
    rolling_avg: a.rolling_avg,
    total_tasks: a.total_tasks,
    success_rate: successRate(a),
    interval: summarize(settled.filter((r) => r.agent_name === a.name).map((r) => r.reward)),
  }));
}

/** The issue's web address: GitHub `/issues/N`, GitLab `/-/issues/N`. */
export const issueUrlOf = (repo: Pick<KnownRepository, 'forge' | 'repo_url'>, issue: number): string =>
  `${repo.repo_url.replace(/\/+$/, '')}${repo.forge === 'gitlab' ? '/-' : ''}/issues/${issue}`;
