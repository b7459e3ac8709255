/**
 * Task intake and assignment: the I/O around the pure intake and router. Every step is
 * idempotent — a redelivered or retried event finds the task and the comment as they are
 * and changes nothing that is already right.
 */
import type { Kysely } from 'kysely';
import type { AssignableTier, Config, Priority, TaskType } from '../config/schema.js';
import type { EventOf, EventSink } from '../events.js';
import type { IssueEvent, IssueInfo } from '../forges/event.js';
import type { ForgeDirectory, IssueState } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { PermissionGuard } from '../permissions/guard.js';
import type { PermissionScope } from '../permissions/lookup.js';
import { RoutingBook } from '../routing/book.js';
import { policyFrom, route, type RouteDecision } from '../routing/router.js';
import { getAgent } from '../store/agents.js';
import { branchesOfTask } from '../store/assignments.js';
import { audit } from '../store/audit.js';
import { latestExecution } from '../store/pipeline.js';
import type { Database, TaskRow, TaskStatus } from '../store/schema.js';
import { noticePosted, recordNotice } from '../store/notices.js';
import { findTaskByIssue, getTask, insertTask, markIssueSynced, pendingTasks, tasksBehindIssue, updateTask, type IssueKey } from '../store/tasks.js';
import { assign, cancel, failedAgentsOf, lastAssignment, reject, release, requeue, unstartedTasksOf, updateSpec } from '../store/transitions.js';
import { nowIso } from '../store/time.js';
import { KeyedMutex } from '../util/mutex.js';
import { hashComment, REFUSAL_MARKER, renderRefusalNotice, renderTaskComment, taskMarker } from './comment.js';
import { taskSpecFromIssue, type IntakeResult, type TaskSpec } from './intake.js';
import { decideIssueChange, gateIssueChange, needsPermittedSender, specFields, type IssueChange, type RefusedTrigger } from './issue-change.js';
import { ForgeApiError } from '../forges/errors.js';
import { nextBranchName } from '../workspace/branch.js';
import { nextMergeRequest } from './merge-request.js';
import { ExpectedError } from '../errors.js';

export interface TaskServiceDeps {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  log: Logger;
  /** Where the service says what it did (`task.assigned`, `run.cancel_requested`); see events.ts. */
  events: EventSink;
  /** Who may trigger the bot; one per app, so its cache serves every handler. Built from the rest when absent. */
  permissions?: PermissionGuard;
  /** The router's random source (Thompson draws); tests and the simulator pass a seeded one. */
  rng?: () => number;
  /** The router's clock, epoch ms (probation cool-downs, the P0 fallback). */
  now?: () => number;
}

export class TaskError extends ExpectedError {}

const priorityOrder: Record<Priority, number> = { P0: 0, P1: 1, P2: 2 };

/** Statuses in which the issue carries the `assigned` label. */
const HOLDS_LABEL: readonly TaskStatus[] = ['assigned', 'in_progress', 'publishing'];

/** What a new task row holds before anything happened to it: no agent, comment, MR or spend. */
export const untouchedTask = () => {
  const now = nowIso();
  return {
    assigned_agent: null,
    pending_reason: null,
    comment_id: null,
    comment_hash: null,
    pr_url: null,
    pr_number: null,
    tokens_used: 0,
    cost_usd: 0,
    duration_ms: 0,
    escalations: 0,
    created_at: now,
    updated_at: now,
    completed_at: null,
  };
};

export class TaskService {
  private readonly issueLock = new KeyedMutex();
  private readonly syncLock = new KeyedMutex();
  /** Routing reads load and writes an assignment; one decision at a time keeps capacity honest. */
  private readonly routerLock = new KeyedMutex();

  private readonly permissions: PermissionGuard;
  private book: RoutingBook | null = null;

  constructor(private readonly deps: TaskServiceDeps) {
    this.permissions = deps.permissions ?? new PermissionGuard(deps);
  }

  /** The routing book, loaded on first use and brought up to date with the store. Call under the router lock. */
  private async freshBook(): Promise<RoutingBook> {
    const { db, config } = this.deps;
    if (!this.book) this.book = await RoutingBook.load(db, config);
    else await this.book.catchUp(db);
    return this.book;
  }

  /** Reacts to an issue event: creates, updates, cancels or routes the issue's task. */
  async onIssueEvent(event: IssueEvent): Promise<void> {
    await this.withIssue(issueKey(event), () => this.handleIssue(event));
  }

  /** Runs `work` while no other change of the issue's task is decided (commands take it too). */
  withIssue<T>(key: IssueKey, work: () => Promise<T>): Promise<T> {
    return this.issueLock.run(`${key.forge}:${key.repoId}:${key.issueNumber}`, work);
  }

  private async handleIssue(event: IssueEvent): Promise<void> {
    const { db, config } = this.deps;
    const existing = (await findTaskByIssue(db, issueKey(event))) ?? null;
    // The payload is a hint: whether the issue wants a task is what the forge says now.
    const current = await this.currentIssue(event);
    const issue = current ? { ...event.issue, title: current.title, body: current.body, labels: current.labels, state: current.state } : event.issue;
    let change = decideIssueChange(existing, event, current, taskSpecFromIssue(issue, config), config);
    if (needsPermittedSender(change)) {
      const sender = await this.permissions.decide(scopeOf(event), event.sender, 'write', {
        taskId: existing?.id ?? null,
        action: event.action,
        would: change.kind,
        issue: event.issue.url,
      });
      change = gateIssueChange(change, sender);
    }
    await this.applyIssueChange(change, event, issue);
  }

  private async currentIssue(event: IssueEvent): Promise<IssueState | null> {
    const forge = await this.deps.forges.get(event.forge, event.installationId);
    return forge.getIssue({ id: event.repo.id, fullName: event.repo.fullName }, event.issue.number);
  }

  private async applyIssueChange(change: IssueChange, event: IssueEvent, issue: IssueInfo): Promise<void> {
    const { db, events } = this.deps;
    const actor = event.sender.login;
    switch (change.kind) {
      case 'ignore':
        if (change.task) await this.afterChange(change.task);
        return;
      case 'cancel':
        if (!change.running) return this.cancel(change.task, change.reason, actor);
        // The run coordinator fails the task as cancelled when the agent has stopped.
        return events.emit({ kind: 'run.cancel_requested', taskId: change.task.id, reason: change.reason, actor });
      case 'create':
        return this.createTask(event, issue, { ok: true, spec: change.spec });
      case 'reject': {
        if (!change.task) return this.createTask(event, issue, { ok: false, error: change.error });
        await reject(db, change.task.id, { error: change.error, actor });
        return this.syncIssue(change.task);
      }
      case 'requeue': {
        const publishTo = await this.nextAttemptBranch(change.task, actor);
        const fields = { ...change.fields, ...publishTo, trigger_changed_at: event.changedAt ?? null };
        const task = await requeue(db, change.task.id, { fields, actor, action: event.action });
        return this.afterChange(task ?? change.task);
      }
      case 'update': {
        const { fields, reroute } = change;
        const data = { ...fields, tags: JSON.parse(fields.tags) as string[], rerouted: reroute };
        const task = reroute
          ? await release(db, change.task.id, { reason: 'the task changed before it started', actor, event: 'task.updated', fields, data })
          : await updateSpec(db, change.task.id, { fields, actor, data });
        return this.afterChange(task ?? change.task);
      }
      case 'refuse':
        return this.noticeRefusal(event, change.refusal);
    }
  }

  private async createTask(event: IssueEvent, issue: IssueInfo, intake: IntakeResult): Promise<void> {
    const { db, config } = this.deps;
    const fields = intake.ok ? specFields(intake.spec) : specFields(fallbackSpec(issue, config));
    const { task, created } = await insertTask(db, {
      forge: event.forge,
      installation_id: event.installationId ?? null,
      repo_id: event.repo.id,
      repo: event.repo.fullName,
      repo_url: event.repo.webUrl,
      clone_url: event.repo.cloneUrl,
      default_branch: event.repo.defaultBranch,
      issue_number: event.issue.number,
      issue_url: event.issue.url,
      ...fields,
      status: intake.ok ? 'pending' : 'failed',
      error_message: intake.ok ? null : intake.error,
      ...untouchedTask(),
      trigger_changed_at: event.changedAt ?? null,
    });
    if (created) {
      await audit(db, {
        event: intake.ok ? 'task.created' : 'task.rejected',
        actor: event.sender.login,
        taskId: task.id,
        data: intake.ok ? { ...intake.spec, issue: task.issue_url } : { error: intake.error, issue: task.issue_url },
      });
    }
    await this.afterChange(task);
  }

  /**
   * A task submitted by an operator (the REST API) for an issue of a repository the bot
   * already knows: no forge permission check (the caller's token is the permission), then
   * the same routing and issue sync as a labeled issue. An issue that has a task keeps it.
   */
  async submitTask(
    source: SubmittedSource,
    spec: TaskSpec,
    actor: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ task: TaskRow; created: boolean }> {
    const { db } = this.deps;
    const key = `${source.repo.forge}:${source.repo.repo_id}:${source.issueNumber}`;
    const { task, created } = await this.issueLock.run(key, () =>
      insertTask(db, {
        ...source.repo,
        issue_number: source.issueNumber,
        issue_url: source.issueUrl,
        ...specFields(spec),
        status: 'pending',
        error_message: null,
        ...untouchedTask(),
        trigger_changed_at: null,
      }),
    );
    if (!created) return { task, created };
    await audit(db, { event: 'task.created', actor, taskId: task.id, data: { ...spec, ...extra, issue: task.issue_url, via: 'api' } });
    await this.afterChange(task);
    return { task: (await getTask(db, task.id)) ?? task, created };
  }

  /**
   * Tells the issue, once, who may start the bot. Later refusals are only audited. The notice
   * carries its own marker, so a retry after a crash edits it instead of posting another.
   */
  private async noticeRefusal(event: IssueEvent, refusal: RefusedTrigger): Promise<void> {
    const { db, forges, config } = this.deps;
    const key = issueKey(event);
    if (!forges.configured(event.forge) || (await noticePosted(db, key, 'trigger_refused'))) return;
    const client = await forges.get(event.forge, event.installationId);
    const thread = { repo: { id: event.repo.id, fullName: event.repo.fullName }, number: event.issue.number, on: 'issue' as const };
    const commentId = await client.upsertComment(thread, REFUSAL_MARKER, renderRefusalNotice(config.labels.trigger, refusal));
    await recordNotice(db, key, 'trigger_refused', commentId);
    await audit(db, { event: 'permission.notice_posted', actor: refusal.actor, data: { issue: event.issue.url, commentId } });
  }

  /**
   * Where the next attempt of a finished or failed task publishes, from the forge's word on the
   * task's merge request: while it is open, the same branch and MR (nothing to change); once it
   * is merged or closed, the next branch, and no MR until the attempt opens one. The old
   * attempt keeps its merge request and its reward.
   */
  async nextAttemptBranch(task: TaskRow, actor: string): Promise<Partial<TaskRow>> {
    if (task.pr_number === null) return {};
    const forge = await this.deps.forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
    const state = await forge
      .getMergeRequest({ id: task.repo_id, fullName: task.repo }, task.pr_number)
      .then((mr) => mr.state)
      .catch((error: unknown) => {
        if (error instanceof ForgeApiError && error.status === 404) return 'missing' as const;
        throw error;
      });
    const next = nextMergeRequest(task, state);
    if (next.kind === 'same') return {};
    const branch = nextBranchName(task.id, task.title, await branchesOfTask(this.deps.db, task.id));
    await audit(this.deps.db, { event: 'task.new_branch', actor, taskId: task.id, data: { from: task.branch, to: branch, reason: next.reason } });
    return { branch, pr_number: null, pr_url: null, head_sha: null };
  }

  private async afterChange(task: TaskRow): Promise<void> {
    if (task.status === 'pending') await this.tryAssign(task.id, { actor: 'router' });
    else await this.syncIssue(task);
  }

  /**
   * Routes a pending task (or re-routes an assigned one when forced). Returns the decision;
   * the task stays pending with the reason when no agent can take it.
   */
  async tryAssign(taskId: number, options: { forceAgent?: string; actor: string }): Promise<RouteDecision> {
    const decision = await this.routerLock.run('router', async () => {
      const task = await this.forcedOrPending(taskId, options);
      return this.decideAndAssign(task, options, await this.freshBook());
    });
    await this.afterDecision(taskId, decision);
    return decision;
  }

  private async afterDecision(taskId: number, decision: RouteDecision): Promise<void> {
    const task = await getTask(this.deps.db, taskId);
    if (task) await this.syncIssue(task, decision.kind === 'assigned' ? decision.reasons : undefined);
    if (decision.kind === 'assigned') await this.deps.events.emit({ kind: 'task.assigned', taskId, agent: decision.agent });
  }

  /** The task, pending: a forced agent first takes an assigned task back. */
  private async forcedOrPending(taskId: number, options: { forceAgent?: string; actor: string }): Promise<TaskRow> {
    const { db } = this.deps;
    let task = await getTask(db, taskId);
    if (!task) throw new TaskError(`task ${taskId} does not exist`);
    if (options.forceAgent) {
      if (!(await getAgent(db, options.forceAgent))) throw new TaskError(`agent "${options.forceAgent}" does not exist`);
      if (task.status === 'assigned') {
        const reason = `reassigned to ${options.forceAgent} by ${options.actor}`;
        task = (await release(db, task.id, { reason, actor: options.actor })) ?? task;
      }
    }
    if (task.status !== 'pending') {
      throw new TaskError(`task ${taskId} is ${task.status}; only pending tasks can be assigned`);
    }
    return task;
  }

  /** Decides for one pending task from the book, then assigns (or records why it waits). */
  private async decideAndAssign(task: TaskRow, options: { forceAgent?: string; actor: string }, book: RoutingBook): Promise<RouteDecision> {
    const { db, config } = this.deps;
    const escalation = await this.escalationOf(task);
    // After an escalation the `agent:` label no longer binds: that agent already failed.
    const forced = options.forceAgent ?? (task.escalations > 0 ? null : task.forced_agent);
    const forcedRow = forced ? book.get(forced) : undefined;
    const now = this.deps.now?.() ?? Date.now();
    const decision = route(
      {
        type: task.type as TaskType,
        priority: task.priority as Priority,
        tags: JSON.parse(task.tags) as string[],
        forcedAgent: forced,
        excludeAgents: escalation.tried,
        minTier: escalation.minTier,
        waitingSince: Date.parse(task.pending_since ?? task.created_at),
      },
      forced ? (forcedRow ? [forcedRow] : []) : book.candidates(task.type as TaskType),
      policyFrom(config, { now, rng: this.deps.rng ?? Math.random, fleetMean: book.fleetMean() }),
    );

    if (decision.kind === 'pending') {
      if (task.pending_reason !== decision.reason) {
        await updateTask(db, task.id, { pending_reason: decision.reason });
        await audit(db, { event: 'task.pending', actor: options.actor, taskId: task.id, data: { reason: decision.reason } });
      }
      return decision;
    }
    const assigned = await assign(db, {
      taskId: task.id,
      agent: decision.agent,
      reasons: decision.reasons,
      actor: options.actor,
      data: { via: decision.via, candidates: decision.candidates.slice(0, 10) },
    });
    if (!assigned) throw new TaskError(`task ${task.id} moved on while it was being routed`);
    book.assigned(decision.agent);
    return decision;
  }

  /**
   * After an escalation: the agents that already failed this task. The tier floor holds
   * whatever set it (an escalation, or `/doom retry --tier`).
   */
  private async escalationOf(task: TaskRow): Promise<{ tried: string[]; minTier: AssignableTier | null }> {
    const minTier = (task.min_tier as AssignableTier | null) ?? null;
    if (task.escalations === 0) return { tried: [], minTier };
    return { tried: await failedAgentsOf(this.deps.db, task.id), minTier };
  }

  /**
   * Routes every pending task in one pass, most urgent and oldest first, from one read of the
   * book: call when capacity frees up or a tier moves. Only the tasks whose row changed (an
   * agent, a new reason to wait) have their issue brought in line.
   */
  async routePending(actor = 'router'): Promise<number> {
    const decided = await this.routerLock.run('router', async () => {
      const tasks = (await pendingTasks(this.deps.db)).sort(
        (a, b) => priorityOrder[a.priority as Priority] - priorityOrder[b.priority as Priority] || a.id - b.id,
      );
      if (tasks.length === 0) return [];
      const book = await this.freshBook();
      const out: { task: TaskRow; decision: RouteDecision }[] = [];
      for (const task of tasks) {
        try {
          out.push({ task, decision: await this.decideAndAssign(task, { actor }, book) });
        } catch (error) {
          // Another handler moved the task on since the list was read: nothing to route.
          if (!(error instanceof TaskError)) throw error;
        }
      }
      return out;
    });
    let assigned = 0;
    for (const { task, decision } of decided) {
      if (decision.kind === 'assigned') assigned++;
      if (decision.kind === 'assigned' || decision.reason !== task.pending_reason) await this.afterDecision(task.id, decision);
    }
    return assigned;
  }

  /**
   * The P0 fallback's clock: routes again when a pending P0 has waited `[routing]
   * p0_max_wait_ms`, since no event may come to do it. A periodic timer calls it.
   */
  async routeOverdue(): Promise<number> {
    const limit = this.deps.config.routing.p0_max_wait_ms;
    const now = this.deps.now?.() ?? Date.now();
    const overdue = (await pendingTasks(this.deps.db)).some(
      (t) => t.priority === 'P0' && now - Date.parse(t.pending_since ?? t.created_at) >= limit,
    );
    return overdue ? this.routePending('p0-fallback') : 0;
  }

  /**
   * The consequence of every tier change, whatever caused it: an agent that may no longer
   * take tasks (suspended) gives back the ones it has not started, and waiting tasks are
   * routed again (a promotion may make an agent eligible for a P0).
   */
  async onTierChanged(event: EventOf<'tier.changed'>): Promise<void> {
    if (event.to === 'suspended') await this.releaseAgent(event.agent, event.actor);
    else await this.routePending(event.actor);
  }

  /**
   * Sends back to the router every task `agent` holds but has not started (after a
   * suspension), then routes. Returns how many went back.
   */
  async releaseAgent(agent: string, actor: string): Promise<number> {
    const { db } = this.deps;
    let released = 0;
    for (const task of await unstartedTasksOf(db, agent)) {
      const back = await release(db, task.id, { reason: `agent ${agent} was suspended`, actor, data: { agent } });
      if (back) released++;
    }
    await this.routePending(actor);
    return released;
  }

  /** pending | assigned → failed as cancelled, shown on the issue; what waits is routed. */
  async cancel(task: TaskRow, reason: string, actor: string): Promise<void> {
    const cancelled = await cancel(this.deps.db, task.id, { reason, actor });
    // Stored first, shown second: if the comment update fails, the retried delivery (or the
    // reconcile) finds the issue behind the stored revision and shows the cancel.
    await this.syncIssue(cancelled ?? task);
    await this.routePending();
  }

  /**
   * Brings every issue whose task changed since it was last shown in line with the store:
   * the pass that repairs a comment update that failed (a periodic timer runs it).
   */
  async reconcileIssues(): Promise<number> {
    const { db, forges, log } = this.deps;
    const kinds = (['github', 'gitlab'] as const).filter((k) => forges.configured(k));
    let synced = 0;
    for (const task of await tasksBehindIssue(db, kinds)) {
      try {
        await this.syncIssue(task);
        synced++;
      } catch (error) {
        log.warn({ err: error, taskId: task.id }, 'could not bring the issue in line; the next pass tries again');
      }
    }
    return synced;
  }

  /**
   * Makes the issue show the task as stored: the sticky comment and the assigned label.
   * Skips the forge when what it shows is already current (the hash of the last sync). One
   * sync per task at a time, on a fresh read of the row: two at once (the router and a run
   * starting) would both miss the comment id and post two comments.
   */
  async syncIssue(task: Pick<TaskRow, 'id'>, reasons?: string[]): Promise<void> {
    await this.syncLock.run(String(task.id), async () => {
      const current = await getTask(this.deps.db, task.id);
      if (current) await this.syncLocked(current, reasons);
    });
  }

  private async syncLocked(task: TaskRow, reasons?: string[]): Promise<void> {
    const { db, forges, config, log } = this.deps;
    const forge = task.forge as 'github' | 'gitlab';
    if (!forges.configured(forge)) {
      // Start-up already warned that this forge is not configured.
      log.debug({ taskId: task.id, forge }, 'forge not configured: the issue is not updated');
      return;
    }
    const agent = task.assigned_agent ? await getAgent(db, task.assigned_agent) : null;
    const last = await lastAssignment(db, task.id);
    const why = reasons ?? (agent && last ? (JSON.parse(last.reasons) as string[]) : undefined);
    const acceptance = (await latestExecution(db, task.id))?.spec?.acceptance.map((c) => c.text);
    const body = renderTaskComment({ task, agent, reasons: why, ...(acceptance ? { acceptance } : {}) });
    const holds = HOLDS_LABEL.includes(task.status);
    const labels = holds ? [config.labels.assigned] : [];
    const hash = hashComment(body, labels);
    if (hash === task.comment_hash) {
      if (task.synced_revision !== task.revision) await markIssueSynced(db, task.id, { commentId: task.comment_id, hash, revision: task.revision });
      return;
    }

    const client = await forges.get(forge, task.installation_id ?? undefined);
    const thread = { repo: { id: task.repo_id, fullName: task.repo }, number: task.issue_number, on: 'issue' as const };
    const commentId = await client.upsertComment(thread, taskMarker(task.id), body, task.comment_id);
    if (holds) await client.addLabels(thread, labels);
    // Only a task that was ever assigned can have put the label on.
    else if (last) await client.removeLabels(thread, [config.labels.assigned]);
    await markIssueSynced(db, task.id, { commentId, hash, revision: task.revision });
  }
}

/** Where a submitted task lives: a repository from the store, and an issue in it. */
export interface SubmittedSource {
  repo: Pick<TaskRow, 'forge' | 'installation_id' | 'repo_id' | 'repo' | 'repo_url' | 'clone_url' | 'default_branch'>;
  issueNumber: number;
  issueUrl: string;
}

const issueKey = (event: IssueEvent): IssueKey => ({ forge: event.forge, repoId: event.repo.id, issueNumber: event.issue.number });

const scopeOf = (event: IssueEvent): PermissionScope => ({
  forge: event.forge,
  installationId: event.installationId,
  repo: { id: event.repo.id, fullName: event.repo.fullName },
});

/** What a rejected issue's task row holds: the config defaults, so it can be shown. */
function fallbackSpec(issue: IssueInfo, config: Config): TaskSpec {
  return {
    type: config.labels.default_type,
    priority: config.labels.default_priority,
    tags: [],
    title: issue.title,
    description: issue.title,
    maxTokens: config.coordinator.max_tokens_default,
    maxUsd: config.coordinator.max_usd_default ?? null,
    timeoutMs: config.coordinator.task_timeout_default_ms,
    forcedAgent: null,
  };
}
