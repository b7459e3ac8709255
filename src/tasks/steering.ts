/**
 * What people ask of a task in a comment (`/doom assign|retry|escalate|cancel|budget`), as
 * operations over the task service and the named transitions of store/transitions.ts. Each
 * decides on a fresh read of the task, refuses with a TaskError (an ExpectedError naming why)
 * before it changes anything, and then changes one thing through one transition; routing and
 * the issue's sticky comment follow as they do for a label.
 *
 * ```ts
 * const steering = new TaskSteering({ db, config, forges, tasks, events });
 * const { task, decision } = await steering.assign(event, 'agent-principal', 'github:octocat');
 * ```
 *
 * Starting a task from a comment puts the trigger label (and `agent:<name>` when one is
 * asked for) on the issue, so the forge says what the store does: a later edit of the issue
 * reads the same spec and does not cancel or re-route what the command started. A finished
 * task's new attempt reads the issue again, as a relabel's does, and puts the label back.
 */
import type { Kysely } from 'kysely';
import type { AssignableTier, Config, Tier } from '../config/schema.js';
import type { EventSink } from '../events.js';
import type { CommentEvent, IssueInfo } from '../forges/event.js';
import type { ForgeDirectory, ThreadRef } from '../forges/forge.js';
import { nextTierUp, tierAtLeast, type RouteDecision } from '../routing/router.js';
import { activeLoad, getAgent } from '../store/agents.js';
import { audit } from '../store/audit.js';
import { findTaskByThread } from '../store/commands.js';
import type { Database, TaskRow, TaskUpdate } from '../store/schema.js';
import { findTaskByIssue, getTask, insertTask } from '../store/tasks.js';
import { escalateByRequest, lastAssignment, raiseBudget, release, retry } from '../store/transitions.js';
import { taskSpecFromIssue } from './intake.js';
import { specFields, type SpecFields } from './issue-change.js';
import { TaskError, untouchedTask, type TaskService } from './service.js';

export interface TaskSteeringDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'labels' | 'coordinator' | 'commands'>;
  forges: ForgeDirectory;
  tasks: Pick<TaskService, 'tryAssign' | 'cancel' | 'nextAttemptBranch' | 'withIssue' | 'syncIssue'>;
  /** Where a cancel of a running task is asked for (`run.cancel_requested`). */
  events: EventSink;
}

/** A task that went (back) to the router, and what the router said. */
export interface Routed {
  task: TaskRow;
  decision: RouteDecision;
  /** The command started the task (there was none for the issue). */
  created: boolean;
}

export type Escalated = ({ kind: 'routed' } & Routed & { to: AssignableTier }) | { kind: 'stopping'; task: TaskRow; to: AssignableTier };

export type Cancelled = { kind: 'cancelled'; task: TaskRow } | { kind: 'stopping'; task: TaskRow };

export type Budget = { kind: 'shown'; task: TaskRow } | { kind: 'raised'; task: TaskRow; from: number; fromUsd: number | null };

/** Statuses in which a run is under way: nothing here moves such a task but `cancel`. */
const UNDER_WAY = new Set(['in_progress', 'publishing']);
const FINISHED = new Set(['completed', 'failed']);

export class TaskSteering {
  constructor(private readonly deps: TaskSteeringDeps) {}

  /** Starts the issue's task, or routes it again; to `agent` when one is named. */
  async assign(event: CommentEvent, agent: string | null, actor: string): Promise<Routed> {
    const existing = await findTaskByThread(this.deps.db, threadOf(event));
    if (existing) refuseUnderWay(existing, 'assign');
    if (agent) await this.requireRoutable(agent, existing);
    if (!existing) {
      const task = await this.start(event, agent, actor);
      return { task, decision: await this.route(task, agent, actor), created: true };
    }
    if (existing.status === 'assigned' && existing.assigned_agent === agent) {
      throw new TaskError(`task #${existing.id} is already assigned to \`${agent}\``);
    }
    let task = existing;
    if (FINISHED.has(task.status)) task = await this.newAttempt(task, { minTier: null, actor, why: 'assign' });
    else if (task.status === 'assigned' && !agent) {
      task = (await release(this.deps.db, task.id, { reason: `routed again by ${actor}`, actor })) ?? moved(task);
    }
    return { task, decision: await this.route(task, agent, actor), created: false };
  }

  /** A new attempt; `tier` sets the floor the router keeps to (that tier or above). */
  async retry(event: CommentEvent, tier: AssignableTier | null, actor: string): Promise<Routed> {
    const task = await this.requireTask(event);
    refuseUnderWay(task, 'retry');
    if (!FINISHED.has(task.status) && tier === null) {
      throw new TaskError(`task #${task.id} is ${task.status}, not finished: nothing to retry (\`/doom assign\` routes it again, \`--tier\` sets a floor)`);
    }
    const next = await this.newAttempt(task, { minTier: tier, actor, why: 'retry' });
    return { task: next, decision: await this.route(next, null, actor), created: false };
  }

  /**
   * The task goes back to the router one tier floor above the agent that had it (or its
   * floor). A running task's run is asked to stop; the coordinator escalates it when it has.
   */
  async escalate(event: CommentEvent, actor: string): Promise<Escalated> {
    const task = await this.requireTask(event);
    if (task.status === 'publishing') refuseUnderWay(task, 'escalate');
    const to = nextTierUp(await this.tierReached(task));
    if (!to) throw new TaskError(`task #${task.id} is already at principal: there is no tier above`);
    if (task.status === 'in_progress') {
      await this.deps.events.emit({ kind: 'run.cancel_requested', taskId: task.id, reason: `/doom escalate by ${actor}`, actor, escalateTo: to });
      return { kind: 'stopping', task, to };
    }
    const next = await this.again(task, actor, (fields) => escalateByRequest(this.deps.db, task.id, { minTier: to, actor, fields }));
    return { kind: 'routed', task: next, decision: await this.route(next, null, actor), created: false, to };
  }

  /** Stops the task: at once when no run has started, else by asking its run to stop. */
  async cancel(event: CommentEvent, actor: string): Promise<Cancelled> {
    const task = await this.requireTask(event);
    if (task.status === 'pending' || task.status === 'assigned') {
      await this.deps.tasks.cancel(task, `cancelled by ${actor} (/doom cancel)`, actor);
      return { kind: 'cancelled', task: (await getTask(this.deps.db, task.id)) ?? task };
    }
    if (task.status === 'in_progress') {
      await this.deps.events.emit({ kind: 'run.cancel_requested', taskId: task.id, reason: `/doom cancel by ${actor}`, actor });
      return { kind: 'stopping', task };
    }
    throw new TaskError(`task #${task.id} is ${task.status}: nothing to cancel`);
  }

  /**
   * Shows the budget, or raises it: tokens within `[commands] max_budget_tokens`, dollars within
   * `[commands] max_budget_usd` (a task with no dollar budget gets its first one).
   */
  async budget(event: CommentEvent, raise: { tokens: number } | { usd: number } | null, actor: string): Promise<Budget> {
    const task = await this.requireTask(event);
    if (raise === null) return { kind: 'shown', task };
    const { commands } = this.deps.config;
    if ('usd' in raise) {
      if (raise.usd > commands.max_budget_usd) throw new TaskError(`at most $${commands.max_budget_usd} per run may be asked for here ([commands] max_budget_usd)`);
      if (task.max_usd !== null && raise.usd <= task.max_usd) throw new TaskError(`task #${task.id} already has $${task.max_usd} per run; a budget is only raised here`);
    } else {
      if (raise.tokens > commands.max_budget_tokens) throw new TaskError(`at most ${commands.max_budget_tokens} tokens may be asked for here ([commands] max_budget_tokens)`);
      if (raise.tokens <= task.max_tokens) throw new TaskError(`task #${task.id} already has ${task.max_tokens} tokens; a budget is only raised here`);
    }
    if (task.status === 'publishing') throw new TaskError(`task #${task.id} is publishing its merge request; ask again once it is done`);
    const input = 'usd' in raise ? { maxUsd: raise.usd, actor } : { maxTokens: raise.tokens, actor };
    const raised = (await raiseBudget(this.deps.db, task.id, input)) ?? moved(task);
    await this.deps.tasks.syncIssue(raised);
    return { kind: 'raised', task: raised, from: task.max_tokens, fromUsd: task.max_usd };
  }

  private async requireTask(event: CommentEvent): Promise<TaskRow> {
    const task = await findTaskByThread(this.deps.db, threadOf(event));
    if (task) return task;
    const where = event.target === 'issue' ? 'issue' : 'merge request';
    throw new TaskError(`there is no task for this ${where}${event.target === 'issue' ? ' (`/doom assign` starts one)' : ''}`);
  }

  /** An agent the router could give the task to now: it exists, is active and not suspended, and has room. */
  private async requireRoutable(name: string, task: TaskRow | undefined): Promise<void> {
    const agent = await getAgent(this.deps.db, name);
    if (!agent || agent.active !== 1) throw new TaskError(`agent "${name}" does not exist`);
    if (agent.tier === 'suspended') throw new TaskError(`agent "${name}" is suspended`);
    const held = task && task.assigned_agent === name && task.status === 'assigned' ? 1 : 0;
    const load = ((await activeLoad(this.deps.db)).get(name) ?? 0) - held;
    if (load >= agent.max_concurrent_tasks) throw new TaskError(`agent "${name}" is at capacity (${load}/${agent.max_concurrent_tasks})`);
  }

  /** The highest of the task's floor and the tier of the agent that last had it; junior when neither. */
  private async tierReached(task: TaskRow): Promise<Tier> {
    const last = await lastAssignment(this.deps.db, task.id);
    const agentTier = last ? ((await getAgent(this.deps.db, last.agent_name))?.tier as Tier | undefined) : undefined;
    const candidates = [task.min_tier as AssignableTier | null, agentTier === 'suspended' ? null : agentTier].filter((t): t is AssignableTier => Boolean(t));
    return candidates.reduce<AssignableTier>((best, t) => (tierAtLeast(t, best) ? t : best), 'junior');
  }

  private newAttempt(task: TaskRow, input: { minTier: AssignableTier | null; actor: string; why: string }): Promise<TaskRow> {
    return this.again(task, input.actor, (fields) => retry(this.deps.db, task.id, { minTier: input.minTier, actor: input.actor, fields, data: { via: `/doom ${input.why}` } }));
  }

  /**
   * Sends a task back to the router through `transition`. A finished task's next attempt is
   * made as a relabel makes one: from the issue as the forge shows it now (open, its spec read
   * again, the trigger label put back if it was taken off) and on the branch the MR's state
   * allows, under the issue's lock so the label's own webhook finds the task already waiting.
   * A budget raised by `/doom budget` is kept.
   */
  private async again(task: TaskRow, actor: string, transition: (fields: TaskUpdate) => Promise<TaskRow | null>): Promise<TaskRow> {
    if (!FINISHED.has(task.status)) return (await transition({})) ?? moved(task);
    const key = { forge: task.forge, repoId: task.repo_id, issueNumber: task.issue_number };
    return this.deps.tasks.withIssue(key, async () => {
      const spec = await this.wantedIssue(task);
      const publishTo = await this.deps.tasks.nextAttemptBranch(task, actor);
      return (await transition({ ...spec, max_tokens: Math.max(spec.max_tokens, task.max_tokens), ...publishTo })) ?? moved(task);
    });
  }

  /** The task's issue read again: it must be open and describe a task; the trigger label goes back on. */
  private async wantedIssue(task: TaskRow): Promise<SpecFields> {
    const { config, forges } = this.deps;
    const forge = await forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
    const thread: ThreadRef = { repo: { id: task.repo_id, fullName: task.repo }, number: task.issue_number, on: 'issue' };
    const current = await forge.getIssue(thread.repo, task.issue_number);
    if (!current) throw new TaskError(`the forge no longer has issue #${task.issue_number}`);
    if (current.state === 'closed') throw new TaskError(`issue #${task.issue_number} is closed; reopen it first`);
    const adding = current.labels.includes(config.labels.trigger) ? [] : [config.labels.trigger];
    const author = { id: 0, login: '', isBot: false };
    const intake = taskSpecFromIssue({ ...current, labels: [...current.labels, ...adding], url: task.issue_url, state: 'open', author }, config as Config);
    if (!intake.ok) throw new TaskError(`the issue does not describe a task: ${intake.error}`);
    await forge.addLabels(thread, adding);
    return specFields(intake.spec);
  }

  private route(task: TaskRow, agent: string | null, actor: string): Promise<RouteDecision> {
    return this.deps.tasks.tryAssign(task.id, { actor, ...(agent ? { forceAgent: agent } : {}) });
  }

  /**
   * The issue's task, made as a trigger label would make it, under the issue's lock so the
   * label's own webhook finds the task and leaves it alone.
   */
  private async start(event: CommentEvent, agent: string | null, actor: string): Promise<TaskRow> {
    if (event.target !== 'issue') throw new TaskError('there is no task for this merge request; `/doom assign` on an issue starts one');
    const { db, config, forges } = this.deps;
    const key = { forge: event.forge, repoId: event.repo.id, issueNumber: event.number };
    return this.deps.tasks.withIssue(key, async () => {
      const again = await findTaskByIssue(db, key);
      if (again) return again;
      const forge = await forges.get(event.forge, event.installationId);
      const thread: ThreadRef = { repo: { id: event.repo.id, fullName: event.repo.fullName }, number: event.number, on: 'issue' };
      const current = await forge.getIssue(thread.repo, event.number);
      if (!current) throw new TaskError(`the forge no longer has issue #${event.number}`);
      if (current.state === 'closed') throw new TaskError(`issue #${event.number} is closed; reopen it first`);
      const wanted = [config.labels.trigger, ...(agent ? [`${config.labels.force_agent_prefix}${agent}`] : [])];
      const adding = wanted.filter((l) => !current.labels.includes(l));
      const issue: IssueInfo = { ...current, labels: [...current.labels, ...adding], url: issueUrl(event), state: 'open', author: event.comment.author };
      const intake = taskSpecFromIssue(issue, config as Config);
      if (!intake.ok) throw new TaskError(`the issue does not describe a task: ${intake.error}`);
      await forge.addLabels(thread, adding);
      const { task, created } = await insertTask(db, {
        forge: event.forge,
        installation_id: event.installationId ?? null,
        repo_id: event.repo.id,
        repo: event.repo.fullName,
        repo_url: event.repo.webUrl,
        clone_url: event.repo.cloneUrl,
        default_branch: event.repo.defaultBranch,
        issue_number: event.number,
        issue_url: issue.url,
        ...specFields(intake.spec),
        status: 'pending',
        error_message: null,
        ...untouchedTask(),
      });
      if (created) await audit(db, { event: 'task.created', actor, taskId: task.id, data: { ...intake.spec, issue: task.issue_url, via: '/doom assign', labels: adding } });
      return task;
    });
  }
}

function refuseUnderWay(task: TaskRow, command: string): void {
  if (!UNDER_WAY.has(task.status)) return;
  if (task.status === 'publishing') throw new TaskError(`task #${task.id} is publishing its merge request; ask again once it is done`);
  throw new TaskError(`task #${task.id} is ${task.status}: its run is under way; \`/doom cancel\` stops it, then \`/doom ${command}\``);
}

/** A transition that found the task moved on: the caller's read is stale. */
function moved(task: TaskRow): never {
  throw new TaskError(`task #${task.id} moved on while this was being decided; check \`/doom status\` and ask again`);
}

const threadOf = (event: CommentEvent) => ({ forge: event.forge, repoId: event.repo.id, on: event.target, number: event.number });

/** The issue's address: the comment's, without its anchor (`…/issues/17#note_1241`). */
const issueUrl = (event: CommentEvent): string => event.comment.url.replace(/#.*$/, '');
