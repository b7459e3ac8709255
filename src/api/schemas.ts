/**
 * The REST API's shapes: requests are validated with them and the OpenAPI document is
 * generated from them. Task types, priorities and tiers are the config's own enums, and the
 * submitted task is the seed's `task.yml` object (src/tasks/intake.ts), so the API cannot
 * drift from what the bot accepts elsewhere.
 */
import { z } from '@hono/zod-openapi';
import { taskType, tier } from '../config/schema.js';
import { forgeKind } from '../forges/event.js';
import { seedTask } from '../tasks/intake.js';

export const ErrorBody = z
  .object({
    error: z.string().openapi({ example: 'task 42 does not exist' }),
    problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Error');

export const taskStatus = z.enum(['pending', 'assigned', 'in_progress', 'publishing', 'completed', 'failed']);

const summary = z
  .object({
    n: z.number().int(),
    mean: z.number().nullable(),
    stderr: z.number().nullable(),
    low: z.number().nullable(),
    high: z.number().nullable(),
  })
  .openapi('RewardSummary');

/** The seed's Task model, plus where the task lives and why it waits. */
export const Task = z
  .object({
    id: z.number().int(),
    type: z.string(),
    status: taskStatus,
    assigned_agent: z.string().nullable(),
    created_at: z.string(),
    completed_at: z.string().nullable(),
    metadata: z.object({
      title: z.string(),
      tags: z.array(z.string()),
      priority: z.string(),
      description: z.string(),
      constraints: z.object({ max_tokens: z.number().int(), timeout_ms: z.number().int() }),
    }),
    outcome: z.object({
      pr_url: z.string().nullable(),
      error_message: z.string().nullable(),
      tokens_used: z.number(),
      cost_usd: z.number(),
      duration_ms: z.number(),
    }),
    source: z.object({ forge: z.string(), repo: z.string(), issue_number: z.number().int(), issue_url: z.string() }),
    pending_reason: z.string().nullable(),
  })
  .openapi('Task');

export const TaskSubmission = z
  .object({
    repository: z
      .object({ forge: forgeKind, full_name: z.string().min(1).openapi({ example: 'octo-org/widgets' }) })
      .strict()
      .openapi({ description: 'A repository the bot has already seen an issue from (so it knows its installation and clone URL).' }),
    issue: z.number().int().positive().openapi({ description: 'The issue (GitHub number, GitLab iid) the task reports on.' }),
    // `.describe`, not `.openapi`: the schema is built in intake.ts, maybe before this module
    // extends zod, and zod 4 gives `.openapi` only to schemas built after.
    task: seedTask.describe("The seed's task.yml `task` object."),
    force_agent: z.string().min(1).optional().openapi({ description: 'Assign this agent, as `doom assign --force-agent` does.' }),
  })
  .strict()
  .openapi('TaskSubmission');

export const Decision = z
  .object({ kind: z.enum(['assigned', 'pending', 'not_routed']), agent: z.string().nullable(), reason: z.string().nullable() })
  .openapi('RouteDecision');

export const TaskList = z
  .object({ tasks: z.array(Task), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
  .openapi('TaskList');

export const TaskQuery = z.object({
  status: taskStatus.optional(),
  agent: z.string().min(1).optional(),
  type: taskType.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const TaskId = z.object({
  id: z.coerce.number().int().positive().openapi({ param: { name: 'id', in: 'path' }, example: 42 }),
});

export const AgentName = z.object({
  name: z.string().min(1).openapi({ param: { name: 'name', in: 'path' }, example: 'agent-bugfix-senior' }),
});

export const Agent = z
  .object({
    name: z.string(),
    tier,
    specializations: z.array(z.string()),
    active: z.boolean(),
    manual_override: z.string().nullable(),
    created_at: z.string(),
    performance: z.object({
      rolling_avg_reward: z.number(),
      total_tasks: z.number().int(),
      completed_tasks: z.number().int(),
      failed_tasks: z.number().int(),
      success_rate: z.number().nullable(),
    }),
  })
  .openapi('Agent');

export const AgentList = z.object({ agents: z.array(Agent) }).openapi('AgentList');

export const AgentMetrics = z
  .object({
    agent: z.string(),
    tier,
    rolling_avg_reward: z.number(),
    interval_method: z.string(),
    overall: summary,
    by_type: z.record(z.string(), summary),
    tier_history: z.array(
      z.object({ from: z.string(), to: z.string(), reason: z.string(), source: z.string(), rolling_avg: z.number().nullable(), timestamp: z.string() }),
    ),
    last_rewards: z.array(
      z.object({
        task_id: z.number().int(),
        reward: z.number(),
        kind: z.string(),
        degraded: z.boolean(),
        components: z.record(z.string(), z.number()),
        timestamp: z.string(),
      }),
    ),
  })
  .openapi('AgentMetrics');

export const LeaderboardQuery = z.object({ metric: z.enum(['reward', 'tasks', 'success-rate']).default('reward') });

export const Leaderboard = z
  .object({
    metric: z.string(),
    interval_method: z.string(),
    agents: z.array(
      z.object({
        rank: z.number().int(),
        name: z.string(),
        tier,
        rolling_avg: z.number(),
        total_tasks: z.number().int(),
        success_rate: z.number().nullable(),
        interval: summary,
      }),
    ),
  })
  .openapi('Leaderboard');

export const PromoteBody = z
  .object({ to: tier.exclude(['suspended']).optional(), reason: z.string().min(1).max(500).optional() })
  .strict()
  .openapi('Promotion');

export const SuspendBody = z.object({ reason: z.string().min(1).max(500).optional() }).strict().openapi('Suspension');

export const TierAction = z
  .object({ agent: Agent, tasks_moved: z.number().int().openapi({ description: 'Waiting tasks assigned (promote) or released (suspend).' }) })
  .openapi('TierAction');
