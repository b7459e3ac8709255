/**
 * What the handled commands do. Each takes the parsed command and the thread it came from
 * and returns the reply text; a refusal the domain makes (an unknown agent, no tier above, a
 * run under way) is an ExpectedError the handler turns into a "did nothing" reply, and comes
 * before any change.
 *
 * `effect: true` marks a command that changes something: the handler claims its line in the
 * store before running it, so a redelivered comment never runs it twice. Read-only commands
 * are simply answered again.
 *
 * Task commands go through TaskSteering (tasks/steering.ts), tier changes through
 * `changeTier` (tiers/manual.ts), the path the CLI and the REST API take too; `revise` starts a
 * review round (tasks/revisions.ts).
 */
import type { Kysely } from 'kysely';
import { ExpectedError } from '../errors.js';
import type { AssignableTier, Config } from '../config/schema.js';
import type { CommentEvent } from '../forges/event.js';
import { summarize } from '../metrics/summary.js';
import type { RouteDecision } from '../routing/router.js';
import { getAgent, listAgents } from '../store/agents.js';
import { publishedAttempt } from '../store/assignments.js';
import { findTaskByThread, recordFeedback } from '../store/commands.js';
import { rewardOfAttempt, settledRewards } from '../store/rewards.js';
import type { AgentRow, AssignmentRow, Database, TaskRow } from '../store/schema.js';
import { lastAssignment } from '../store/transitions.js';
import type { TaskSteering } from '../tasks/steering.js';
import type { TierChange, TierChangeResult } from '../tiers/manual.js';
import type { Command, CommandName } from './parse.js';

/** What commands act through; app.ts builds them once. */
export interface CommandServices {
  steering: Pick<TaskSteering, 'assign' | 'retry' | 'escalate' | 'cancel' | 'budget'>;
  changeTier(change: TierChange): Promise<TierChangeResult>;
  /** A feedback vote was recorded: the reward is computed again (Evaluator.onFeedback). */
  feedbackRecorded(taskId: number): Promise<void>;
  /**
   * The seam for an agent's reward interval in `/doom status`: null shows none. The default,
   * `settledRewardInterval`, is the one the REST API shows; a tier-interval model plugs in here.
   */
  agentInterval?(agent: AgentRow): Promise<string | null>;
}

export interface CommandContext {
  db: Kysely<Database>;
  config: Pick<Config, 'tiers' | 'commands'>;
  event: CommentEvent;
  thread: { forge: string; repoId: number; on: 'issue' | 'merge_request'; number: number };
  /** `forge:login` of who ran it, for the audit log. */
  actor: string;
  help: string;
  services: CommandServices;
  /** Starts a revision round of the thread's merge request (tasks/revisions.ts); absent where runs do not happen. */
  revise?: (instructions: string) => Promise<string>;
}

export interface CommandAction<N extends CommandName = CommandName> {
  effect: boolean;
  run(command: Extract<Command, { name: N }>, ctx: CommandContext): Promise<string>;
}

export type CommandActions = { [N in CommandName]?: CommandAction<N> };

const withReason = (reason: string | null) => (reason ? { reason } : {});

/** A task's budget per run, as a reply says it. */
const perRun = (task: { max_tokens: number; max_usd: number | null }): string =>
  `${task.max_tokens} tokens${task.max_usd === null ? '' : ` and $${task.max_usd}`} per run`;

export const handledActions: CommandActions = {
  help: { effect: false, run: async (_command, ctx) => ctx.help },
  status: { effect: false, run: async (_command, ctx) => status(ctx) },
  leaderboard: { effect: false, run: async (command, ctx) => leaderboard(ctx.db, command.type) },
  assign: {
    effect: true,
    run: async (command, ctx) => {
      const { task, decision, created } = await ctx.services.steering.assign(ctx.event, command.agent, ctx.actor);
      return `${created ? `Started task #${task.id} for this issue.` : `Task #${task.id} went back to the router.`} ${routedText(decision)}`;
    },
  },
  retry: {
    effect: true,
    run: async (command, ctx) => {
      const { task, decision } = await ctx.services.steering.retry(ctx.event, command.tier as AssignableTier | null, ctx.actor);
      const floor = command.tier ? ` at ${command.tier} or above` : '';
      return `A new attempt at task #${task.id}${floor}. ${routedText(decision)}`;
    },
  },
  escalate: {
    effect: true,
    run: async (_command, ctx) => {
      const result = await ctx.services.steering.escalate(ctx.event, ctx.actor);
      if (result.kind === 'stopping') {
        return `Asked the run of task #${result.task.id} to stop; when it has, only ${result.to} agents or above may take the task.`;
      }
      return `Task #${result.task.id} escalated: only ${result.to} agents or above may take it, not one whose run of it failed. ${routedText(result.decision)}`;
    },
  },
  cancel: {
    effect: true,
    run: async (_command, ctx) => {
      const result = await ctx.services.steering.cancel(ctx.event, ctx.actor);
      return result.kind === 'cancelled'
        ? `Task #${result.task.id} is cancelled; no run had started. \`/doom retry\` (or the trigger label again) starts a new attempt.`
        : `Asked the run of task #${result.task.id} to stop; the task fails as cancelled when the agent has stopped.`;
    },
  },
  feedback: { effect: true, run: async (command, ctx) => feedback(command, ctx) },
  budget: {
    effect: true,
    run: async (command, ctx) => {
      const result = await ctx.services.steering.budget(ctx.event, command.raise, ctx.actor);
      const { task } = result;
      const used = `${task.tokens_used} tokens used so far, $${task.cost_usd.toFixed(2)}`;
      const { max_budget_tokens: tokenCap, max_budget_usd: usdCap } = ctx.config.commands;
      if (result.kind === 'shown') {
        return `Task #${task.id} may use ${perRun(task)}; ${used}. It may be raised up to ${tokenCap} tokens and $${usdCap} (\`/doom budget 400k\`, \`/doom budget $5\`).`;
      }
      const next = task.status === 'in_progress' ? 'The run under way keeps its budget; the next run gets this one.' : task.status === 'failed' || task.status === 'completed' ? '`/doom retry` starts a run with it.' : 'Its next run gets it.';
      const was = task.max_tokens !== result.from ? `${result.from} tokens` : result.fromUsd === null ? 'no dollar limit' : `$${result.fromUsd}`;
      return `Task #${task.id} may now use ${perRun(task)} (was ${was}); ${used}. ${next}`;
    },
  },
  promote: {
    effect: true,
    run: async (command, ctx) => {
      const { agent, assigned } = await ctx.services.changeTier({ kind: 'promote', agent: command.agent, actor: ctx.actor, ...withReason(command.reason) });
      return `Promoted \`${agent.name}\` to **${agent.tier}**. Its next final reward decides its tier again.${movedText(0, assigned)}`;
    },
  },
  suspend: {
    effect: true,
    run: async (command, ctx) => {
      const { agent, released, assigned } = await ctx.services.changeTier({ kind: 'suspend', agent: command.agent, actor: ctx.actor, reason: command.reason });
      return `Suspended \`${agent.name}\`: it takes no tasks until reinstated or promoted.${movedText(released, assigned)}`;
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
      const { agent, assigned } = await ctx.services.changeTier({ kind: 'reinstate', agent: command.agent, actor: ctx.actor });
      return `Reinstated \`${agent.name}\` at **${agent.tier}**. Its next final reward decides its tier again.${movedText(0, assigned)}`;
    },
  },
};

/** Pure: what the router did with a task, in a sentence. */
export function routedText(decision: RouteDecision): string {
  if (decision.kind === 'assigned') return `Assigned to \`${decision.agent}\`: ${decision.reasons[0] ?? 'chosen by the router'}.`;
  return `It waits: ${decision.reason}.`;
}

function movedText(released: number, assigned: number): string {
  const parts = [
    ...(released > 0 ? [`${released} task(s) it had not started went back to the router`] : []),
    ...(assigned > 0 ? [`${assigned} waiting task(s) found an agent`] : []),
  ];
  return parts.length > 0 ? ` ${parts.join('; ')}.` : '';
}

async function feedback(command: Extract<Command, { name: 'feedback' }>, ctx: CommandContext): Promise<string> {
  const task = await findTaskByThread(ctx.db, ctx.thread);
  if (!task) throw new ExpectedError(`there is no task for this ${ctx.thread.on === 'issue' ? 'issue' : 'merge request'}`);
  if (task.pr_number === null) throw new ExpectedError(`task #${task.id} has no merge request yet; feedback is about one`);
  const author = ctx.event.comment.author;
  const { previous } = await recordFeedback(ctx.db, {
    taskId: task.id,
    mrNumber: task.pr_number,
    user: { id: author.id, login: author.login },
    vote: command.vote,
    text: command.text,
    commentId: ctx.event.comment.id,
  });
  await ctx.services.feedbackRecorded(task.id);
  const vote = command.vote > 0 ? '+1' : '-1';
  const replaced = previous === null ? '' : previous === command.vote ? ' (the same as before)' : ` (it replaces your ${previous > 0 ? '+1' : '-1'})`;
  const attempt = await publishedAttempt(ctx.db, task.id, task.pr_number);
  const reward = attempt ? await rewardOfAttempt(ctx.db, { taskId: task.id, assignmentId: attempt.id, agentName: attempt.agent_name }) : undefined;
  const effect = !reward
    ? 'It counts in `review_feedback_score` (0.2 per vote) once the first pipeline gives the reward.'
    : reward.kind === 'provisional'
      ? `It counts in \`review_feedback_score\` (0.2 per vote): the reward is now ${reward.reward.toFixed(2)}, provisional.`
      : `The reward is already ${reward.kind} (${reward.reward.toFixed(2)}) and is not rewritten; the vote is kept as evidence.`;
  return `Recorded ${vote} from @${author.login} on ${task.pr_url ?? `#${task.pr_number}`}${replaced}. ${effect}`;
}

async function status(ctx: CommandContext): Promise<string> {
  const task = await findTaskByThread(ctx.db, ctx.thread);
  if (!task) return `No task for this ${ctx.thread.on === 'issue' ? 'issue' : 'merge request'}.`;
  const agent = task.assigned_agent ? await getAgent(ctx.db, task.assigned_agent) : undefined;
  const run = await lastAssignment(ctx.db, task.id);
  const runAgent = agent ?? (run ? await getAgent(ctx.db, run.agent_name) : undefined);
  const interval = runAgent ? await (ctx.services.agentInterval ?? ((a) => settledRewardInterval(ctx.db, a, ctx.config)))(runAgent) : null;
  return statusText({ task, agent: runAgent, run, interval }, ctx.config.tiers);
}

/** The default agent interval: mean ± 1.96 standard errors of its settled rewards in the window. */
export async function settledRewardInterval(db: Kysely<Database>, agent: AgentRow, config: Pick<Config, 'tiers'>): Promise<string | null> {
  const s = summarize((await settledRewards(db, agent.name, config.tiers.evaluation_window)).map((r) => r.reward));
  if (s.low === null || s.high === null) return null;
  return `reward ${s.mean} in [${s.low}, ${s.high}] over ${s.n} settled (mean ± 1.96 SE)`;
}

export interface StatusFacts {
  task: TaskRow;
  /** The agent that holds the task, else the one of its latest run. */
  agent: AgentRow | undefined;
  run: AssignmentRow | undefined;
  interval: string | null;
}

/** Pure: the status lines of a task. */
export function statusText(facts: StatusFacts, tiers: Config['tiers']): string {
  const { task, agent, run, interval } = facts;
  const agentLine = agent
    ? `\`${agent.name}\`${task.assigned_agent ? '' : ' (latest run)'}, ${agent.tier} ${tierInterval(agent.tier, tiers)}, rolling average ${agent.rolling_avg.toFixed(2)}${interval ? `; ${interval}` : ''}`
    : 'none yet';
  const floor = task.min_tier ? `, ${task.min_tier} or above` : '';
  const lines = [
    `- task: #${task.id}, **${task.status}**${task.pending_reason ? ` (${task.pending_reason})` : ''}${floor}`,
    `- agent: ${agentLine}`,
    `- run: ${run ? `#${run.id} ${run.status}${run.outcome ? ` (${run.outcome})` : ''}` : 'none yet'}`,
    `- used so far: ${task.tokens_used} tokens of ${task.max_tokens} per run, $${task.cost_usd.toFixed(2)}`,
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
