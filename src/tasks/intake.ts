/**
 * From a labeled issue to a task specification: type and priority from labels, tags from
 * the other labels, constraints from a fenced ```yaml block in the seed's `task.yml` shape,
 * else the config defaults. Pure: the caller has the issue and the config.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { priority, taskType, type Config, type Priority, type TaskType } from '../config/schema.js';
import type { IssueInfo } from '../forges/event.js';

export interface TaskSpec {
  type: TaskType;
  priority: Priority;
  tags: string[];
  title: string;
  description: string;
  maxTokens: number;
  /** Dollars a run may spend; null: tokens only. */
  maxUsd: number | null;
  timeoutMs: number;
  forcedAgent: string | null;
}

export type IntakeResult = { ok: true; spec: TaskSpec } | { ok: false; error: string };

const taskBlockSchema = z
  .object({
    task: z
      .object({
        id: z.unknown().optional(),
        type: taskType.optional(),
        priority: priority.optional(),
        tags: z.array(z.string()).optional(),
        description: z.string().optional(),
        /** Acceptance criteria, read by the pipeline's spec phase (src/pipeline/spec.ts). */
        acceptance: z.array(z.string().min(1).max(2_000)).max(50).optional(),
        constraints: z
          .object({
            max_tokens: z.number().int().positive().max(50_000_000).optional(),
            max_usd: z.number().positive().max(10_000).optional(),
            timeout_ms: z.number().int().positive().max(24 * 3_600_000).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();

const fenced = /```ya?ml[^\n]*\n([\s\S]*?)```/g;

/** Finds the first fenced YAML block with a top-level `task:` key; returns it and the body without it. */
export function extractTaskBlock(body: string): { block: string | null; rest: string } {
  for (const match of body.matchAll(fenced)) {
    const text = match[1] ?? '';
    if (/^task\s*:/m.test(text)) {
      return { block: text, rest: (body.slice(0, match.index) + body.slice(match.index + match[0].length)).trim() };
    }
  }
  return { block: null, rest: body.trim() };
}

function parseTaskBlock(block: string): z.infer<typeof taskBlockSchema>['task'] | string {
  let data: unknown;
  try {
    data = parseYaml(block);
  } catch (error) {
    return `the task block is not valid YAML: ${(error as Error).message.split('\n')[0]}`;
  }
  const parsed = taskBlockSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `the task block is invalid: ${issue.path.join('.') || '(top level)'}: ${issue.message}`;
  }
  return parsed.data.task;
}

/** Labels decide type and priority when present; the YAML block next; config defaults last. */
export function taskSpecFromIssue(issue: IssueInfo, config: Config): IntakeResult {
  const { labels: lc } = config;
  const { block, rest } = extractTaskBlock(issue.body);
  const fromBlock = block === null ? {} : parseTaskBlock(block);
  if (typeof fromBlock === 'string') return { ok: false, error: fromBlock };

  const typeLabels = [...new Set(issue.labels.map((l) => lc.types[l]).filter((t): t is TaskType => t !== undefined))];
  if (typeLabels.length > 1) return { ok: false, error: `conflicting type labels: ${typeLabels.join(', ')}` };
  const prioLabels = [...new Set(issue.labels.map((l) => lc.priorities[l]).filter((p): p is Priority => p !== undefined))];
  // Several priority labels: the most urgent wins (P0 < P1 < P2 in string order).
  const labelPriority = prioLabels.sort()[0];

  const forced = issue.labels.filter((l) => l.startsWith(lc.force_agent_prefix)).map((l) => l.slice(lc.force_agent_prefix.length));
  if (forced.length > 1) return { ok: false, error: `more than one forced agent: ${forced.join(', ')}` };

  const special = new Set([lc.trigger, lc.assigned, lc.bot_authored]);
  const tags = issue.labels.filter(
    (l) => !special.has(l) && lc.types[l] === undefined && lc.priorities[l] === undefined && !l.startsWith(lc.force_agent_prefix),
  );

  const description = [issue.title, fromBlock.description ?? rest].filter((s) => s.trim() !== '').join('\n\n');
  return {
    ok: true,
    spec: {
      type: typeLabels[0] ?? fromBlock.type ?? lc.default_type,
      priority: labelPriority ?? fromBlock.priority ?? lc.default_priority,
      tags: [...new Set([...tags, ...(fromBlock.tags ?? [])])],
      title: issue.title,
      description,
      maxTokens: fromBlock.constraints?.max_tokens ?? config.coordinator.max_tokens_default,
      maxUsd: fromBlock.constraints?.max_usd ?? config.coordinator.max_usd_default ?? null,
      timeoutMs: fromBlock.constraints?.timeout_ms ?? config.coordinator.task_timeout_default_ms,
      forcedAgent: forced[0] || null,
    },
  };
}

/** The seed's `task.yml` `task` object, as a task file or the REST API gives it. */
export const seedTask = z
  .object({
    id: z.string().min(1).max(200).optional(),
    type: taskType,
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
    priority: priority.optional(),
    description: z.string().min(1).max(65_536),
    constraints: taskBlockSchema.shape.task.shape.constraints,
  })
  .strict();
export type SeedTask = z.infer<typeof seedTask>;

/** Pure: a task specification from the seed's task object; the config fills what it leaves out. */
export function taskSpecFromSeed(task: SeedTask, config: Config, forcedAgent: string | null = null): TaskSpec {
  const title = task.description.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 200) ?? task.description.slice(0, 200);
  return {
    type: task.type,
    priority: task.priority ?? config.labels.default_priority,
    tags: [...new Set(task.tags)],
    title,
    description: task.description,
    maxTokens: task.constraints?.max_tokens ?? config.coordinator.max_tokens_default,
    maxUsd: task.constraints?.max_usd ?? config.coordinator.max_usd_default ?? null,
    timeoutMs: task.constraints?.timeout_ms ?? config.coordinator.task_timeout_default_ms,
    forcedAgent,
  };
}
