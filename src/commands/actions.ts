/**
 * What the handled commands do. Each takes the parsed command and the thread it came from
 * and returns the reply text; a refusal the domain makes (an unknown agent, no tier above)
 * is an ExpectedError the handler turns into a "did nothing" reply.
 *
 * `effect: true` marks a command that changes something: the handler claims its line in the
 * store before running it, so a redelivered comment never runs it twice. Read-only commands
 * are simply answered again.
 *
 * Not here yet, by design of the dispatcher rather than by omission: assign, retry, escalate,
 * cancel, feedback and budget act on a task's runs, and slot in as entries of this
 * table (with `effect: true`) once the run state machine exposes its operations.
 */
import type { Kysely } from 'kysely';
import { ExpectedError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { getAgent, listAgents } from '../store/agents.js';
import { findTaskByThread } from '../store/commands.js';
import type { AgentRow, Database, TaskRow } from '../store/schema.js';
import { promoteAgent, suspendAgent } from '../tiers/service.js';
import type { Command, CommandName } from './parse.js';

export interface CommandContext {
  db: Kysely<Database>;
  config: Pick<Config, 'tiers' | 'commands'>;
  thread: { forge: string; repoId: number; on: 'issue' | 'merge_request'; number: number };
  /** `forge:login` of who ran it, for the audit log. */
  actor: string;
  help: string;
  /** Starts a revision round of the thread's merge request (tasks/revisions.ts); absent where runs do not happen. */
  revise?: (instructions: string) => Promise<string>;
}

export interface CommandAction<N extends CommandName = CommandName> {
  effect: boolean;
  run(command: Extract<Command, { name: N }>, ctx: CommandContext): Promise<string>;
}

export type CommandActions = { [N in CommandName]?: CommandAction<N> };

export const handledActions: CommandActions = {
  help: { effect: false, run: async (_command, ctx) => ctx.help },
  status: { effect: false, run: async (_command, ctx) => status(ctx) },
  leaderboard: { effect: false, run: async (command, ctx) => leaderboard(ctx.db, command.type) },
  promote: {
    effect: true,
    run: async (command, ctx) => {
      const agent = await promoteAgent(ctx.db, command.agent, { actor: ctx.actor, ...(command.reason ? { reason: command.reason } : {}) });
      return `Promoted \`${agent.name}\` to **${agent.tier}**. Its next final reward decides its tier again.`;
    },
  },
  suspend: {
    effect: true,
    run: async (command, ctx) => {
      const agent = await suspendAgent(ctx.db, command.agent, { actor: ctx.actor, reason: command.reason });
      return `Suspended \`${agent.name}\`: it takes no tasks until reinstated or promoted.`;
    },
  },
  revise: {
    effect: true,
    run: async (command, ctx) => {
      if (!ctx.revise) throw new ExpectedError('revision rounds are not available here');
      return ctx.revise(command.instructions);
    },
  },
  reinstate: {
    effect: true,
    run: async (command, ctx) => {
      const before = await getAgent(ctx.db, command.agent);
      if (!before) throw new ExpectedError(`agent "${command.agent}" does not exist`);
      if (before.tier !== 'suspended') throw new ExpectedError(`agent "${command.agent}" is ${before.tier}, not suspended`);
      const agent = await promoteAgent(ctx.db, command.agent, { to: 'junior', actor: ctx.actor, reason: `reinstated by ${ctx.actor}` });
      return `Reinstated \`${agent.name}\` at **${agent.tier}**. Its next final reward decides its tier again.`;
    },
  },
};

async function status(ctx: CommandContext): Promise<string> {
  const task = await findTaskByThread(ctx.db, ctx.thread);
  if (!task) return `No task for this ${ctx.thread.on === 'issue' ? 'issue' : 'merge request'}.`;
  const agent = task.assigned_agent ? await getAgent(ctx.db, task.assigned_agent) : undefined;
  return statusText(task, agent, ctx.config.tiers);
}

/** Pure: the status lines of a task. */
export function statusText(task: TaskRow, agent: AgentRow | undefined, tiers: Config['tiers']): string {
  const lines = [
    `- task: #${task.id}, **${task.status}**${task.pending_reason ? ` (${task.pending_reason})` : ''}`,
    `- agent: ${agent ? `\`${agent.name}\`, ${agent.tier} ${tierInterval(agent.tier, tiers)}, rolling average ${agent.rolling_avg.toFixed(2)}` : 'none yet'}`,
    `- used so far: ${task.tokens_used} tokens of ${task.max_tokens}, $${task.cost_usd.toFixed(2)}`,
    `- merge request: ${task.pr_url ?? 'none yet'}`,
  ];
  if (task.error_message) lines.push(`- last error: ${task.error_message.replace(/\s+/g, ' ').slice(0, 200)}`);
  return lines.join('\n');
}

/** The rolling-average interval a tier stands for (tiers/rules.ts). */
export function tierInterval(tier: string, t: Config['tiers']): string {
  switch (tier) {
    case 'principal':
      return `(average ≥ ${t.promotion_threshold})`;
    case 'senior':
      return `(average in [${t.demotion_threshold}, ${t.promotion_threshold}))`;
    case 'junior':
      return `(average in [${t.suspension_threshold}, ${t.demotion_threshold}))`;
    default:
      return '(suspended)';
  }
}

async function leaderboard(db: Kysely<Database>, type: 'reward' | 'tasks' | 'success-rate'): Promise<string> {
  const agents = await listAgents(db);
  return leaderboardTable(agents, type);
}

/** Pure: the leaderboard as a Markdown table, best first, at most 20 rows. */
export function leaderboardTable(agents: AgentRow[], type: 'reward' | 'tasks' | 'success-rate'): string {
  const rate = (a: AgentRow) => (a.total_tasks > 0 ? a.completed_tasks / a.total_tasks : -1);
  const key = (a: AgentRow) => (type === 'reward' ? a.rolling_avg : type === 'tasks' ? a.total_tasks : rate(a));
  const ranked = [...agents].sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name)).slice(0, 20);
  if (ranked.length === 0) return 'No agents yet.';
  const rows = ranked.map(
    (a, i) =>
      `| ${i + 1} | \`${a.name}\` | ${a.tier} | ${a.rolling_avg.toFixed(2)} | ${a.total_tasks} | ${rate(a) < 0 ? '–' : `${Math.round(rate(a) * 100)}%`} |`,
  );
  return [`Leaderboard by ${type}:`, '', '| # | agent | tier | avg reward | tasks | success |', '|---|---|---|---|---|---|', ...rows].join('\n');
}
