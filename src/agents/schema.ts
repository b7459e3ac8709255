/**
 * An agent file, `config/agents/<name>.yml`, in the seed's `agent:` shape. The file is the
 * agent's configuration; its performance lives in the store, so a `performance:` block from
 * the seed's template is accepted and ignored.
 */
import { z } from 'zod';
import { taskType, tier } from '../config/schema.js';
import { permissionsConfig, runnerConfig } from '../runners/config.js';

export const agentNamePattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const agentFileSchema = z
  .object({
    agent: z
      .object({
        name: z.string().regex(agentNamePattern, 'lowercase letters, digits, ".", "_" or "-", at most 63'),
        tier: tier,
        specializations: z.array(taskType).min(1),
        /** How many tasks the agent may hold at once (assigned or running). */
        max_concurrent_tasks: z.number().int().positive().default(2),
        /** Task tags this agent is preferred for (the router adds `[routing] tag_bonus` per match). */
        tags: z.array(z.string().min(1)).default([]),
        performance: z.unknown().optional(),
        context: z
          .object({
            system_prompt: z.string().min(1),
            tools_allowed: z.array(z.string().min(1)).default(['Read', 'Edit', 'Bash', 'Grep']),
            max_context_tokens: z.number().int().positive().default(50_000),
            custom_instructions: z.string().default(''),
          })
          .strict(),
        /** Which agent runs: Claude Code (the default), any CLI agent, or a scripted one. */
        runner: runnerConfig.default({ kind: 'claude-code', max_turns: 30 }),
        permissions: permissionsConfig.prefault({}),
      })
      .strict(),
  })
  .strict();

export type AgentFile = z.infer<typeof agentFileSchema>['agent'];
