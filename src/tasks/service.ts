/**
 * Task intake and assignment: the I/O around the pure intake and router. Every step is
 * idempotent — a redelivered or retried event finds the task and the comment as they are
 * and changes nothing that is already right.
 */
import type { Kysely } from 'kysely';
import type { AssignableTier, Config, Priority, TaskType, Tier } from '../config/schema.js';
import type { IssueEvent } from '../forges/event.js';
import type { ForgeDirectory } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { PermissionGuard } from '../permissions/guard.js';
import type { PermissionScope } from '../permissions/lookup.js';
import { route, type RouteDecision, type RoutableAgent } from '../routing/router.js';
import { activeLoad, getAgent, listAgents } from '../store/agents.js';
import { newAssignment } from '../store/assignments.js';
import { audit } from '../store/audit.js';
import type { AgentRow, Database, TaskRow } from '../store/schema.js';
import { noticePosted, recordNotice } from '../store/notices.js';
import { findTaskByIssue, getTask, insertTask, pendingTasks, updateTask, type IssueKey } from '../store/tasks.js';
import { nowIso } from '../store/time.js';
import { KeyedMutex } from '../util/mutex.js';
import { hashComment, REFUSAL_MARKER, renderRefusalNotice, renderTaskComment, taskMarker } from './comment.js';
import { taskSpecFromIssue, type IntakeResult, type TaskSpec } from './intake.js';
import { decideIssueChange, gateIssueChange, needsPermittedSender, specFields, type IssueChange, type RefusedTrigger } from './issue-change.js';
import { ExpectedError } from '../errors.js';

export interface TaskServiceDeps {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  log: Logger;
  /** Who may trigger the bot; one per app, so its cache serves every handler. Built from the rest when absent. */
  permissions?: PermissionGuard;
}

export class TaskError extends ExpectedError {}

export const toRoutable = (a: AgentRow, load: Map<string, number>): RoutableAgent => ({
  name: a.name,
  tier: a.tier as Tier,
  specializations: JSON.parse(a.specializations) as TaskType[],
  rollingAvg: a.rolling_avg,
  totalTasks: a.total_tasks,
  load: load.get(a.name) ?? 0,
  capacity: a.max_concurrent_tasks,
  active: a.active === 1,
});

const priorityOrder: Record<Priority, number> = { P0: 0, P1: 1, P2: 2 };

/** What the run coordinator lets the task service do (set once both exist). */
export interface RunHooks {
  /** A task was assigned: start it when the executor has room. */
  assigned(): void;
  /** Stops the task's running run; false when none runs. */
  cancel(taskId: number): boolean;
}

export class TaskService {
  runs: RunHooks = { assigned: () => undefined, cancel: () => false };
  private readonly issueLock = new KeyedMutex();
  private readonly syncLock = new KeyedMutex();
  /** Routing reads load and writes an assignment; one decision at a time keeps capacity honest. */
  private readonly routerLock = new KeyedMutex();

  private readonly permissions: PermissionGuard;

  constructor(private readonly deps: TaskServiceDeps) {
    this.permissions = deps.permissions ?? new PermissionGuard(deps);
  }

  /** Reacts to an issue event: creates, updates, cancels or routes the issue's task. */
  async onIssueEvent(event: IssueEvent): Promise<void> {
    const key = `${event.forge}:${event.repo.id}:${event.issue.number}`;
    await this.issueLock.run(key, () => this.handleIssue(event));
  }

  private async handleIssue(event: IssueEvent): Promise<void> {
    const { db, config } = this.deps;
    const existing = (await findTaskByIssue(db, issueKey(event))) ?? null;
    let change = decideIssueChange(existing, event, taskSpecFromIssue(event.issue, config), config);
    if (needsPermittedSender(change)) {
      const sender = await this.permissions.decide(scopeOf(event), event.sender, 'write', {
        taskId: existing?.id ?? null,
        action: event.action,
        would: change.kind,
        issue: event.issue.url,
      });
      change = gateIssueChange(change, sender);
    }
    await this.applyIssueChange(change, event);
  }

  private async applyIssueChange(change: IssueChange, event: IssueEvent): Promise<void> {
    const { db } = this.deps;
    const actor = event.sender.login;
    switch (change.kind) {
      case 'ignore':
        if (change.task) await this.afterChange(change.task);
        return;
      case 'cancel':
        if (!change.running) return this.cancel(change.task, change.reason, actor);
        // The run coordinator fails the task as cancelled when the agent has stopped.
        if (this.runs.cancel(change.task.id)) {
          await audit(db, { event: 'run.cancel_requested', actor, taskId: change.task.id, data: { why: change.reason } });
        }
        return;
      case 'create':
        return this.createTask(event, { ok: true, spec: change.spec });
      case 'reject':
        if (!change.task) return this.createTask(event, { ok: false, error: change.error });
        await updateTask(db, change.task.id, { status: 'failed', error_message: change.error, pending_reason: null });
        await audit(db, { event: 'task.rejected', actor, taskId: change.task.id, data: { error: change.error } });
        return this.syncIssue(change.task);
      case 'requeue': {
        const task = await updateTask(db, change.task.id, {
          ...change.fields,
          status: 'pending',
          error_message: null,
          assigned_agent: null,
          escalations: 0,
          min_tier: null,
          completed_at: null,
        });
        await audit(db, { event: 'task.requeued', actor, taskId: task.id, data: { action: event.action } });
        return this.afterChange(task);
      }
      case 'update': {
        const { fields, reroute } = change;
        if (reroute) await this.releaseAssignments(change.task.id, 'cancelled', 'the task changed before it started');
        const task = await updateTask(db, change.task.id, reroute ? { ...fields, status: 'pending', assigned_agent: null } : fields);
        await audit(db, { event: 'task.updated', actor, taskId: task.id, data: { ...fields, tags: JSON.parse(fields.tags) as string[], rerouted: reroute } });
        return this.afterChange(task);
      }
      case 'refuse':
        return this.noticeRefusal(event, change.refusal);
    }
  }

  private async createTask(event: IssueEvent, intake: IntakeResult): Promise<void> {
    const { db, config } = this.deps;
    const fields = intake.ok ? specFields(intake.spec) : specFields(fallbackSpec(event, config));
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
      created_at: nowIso(),
      updated_at: nowIso(),
      completed_at: null,
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
        created_at: nowIso(),
        updated_at: nowIso(),
        completed_at: null,
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

  private async afterChange(task: TaskRow): Promise<void> {
    if (task.status === 'pending') await this.tryAssign(task.id, { actor: 'router' });
    else await this.syncIssue(task);
  }

  /**
   * Routes a pending task (or re-routes an assigned one when forced). Returns the decision;
   * the task stays pending with the reason when no agent can take it.
   */
  async tryAssign(taskId: number, options: { forceAgent?: string; actor: string }): Promise<RouteDecision> {
    const decision = await this.routerLock.run('router', () => this.assignLocked(taskId, options));
    const task = await getTask(this.deps.db, taskId);
    if (task) await this.syncIssue(task, decision.kind === 'assigned' ? decision.reasons : undefined);
    if (decision.kind === 'assigned') this.runs.assigned();
    return decision;
  }

  private async assignLocked(taskId: number, options: { forceAgent?: string; actor: string }): Promise<RouteDecision> {
    const { db, config } = this.deps;
    let task = await getTask(db, taskId);
    if (!task) throw new TaskError(`task ${taskId} does not exist`);
    if (options.forceAgent) {
      if (!(await getAgent(db, options.forceAgent))) throw new TaskError(`agent "${options.forceAgent}" does not exist`);
      if (task.status === 'assigned') {
        await this.releaseAssignments(task.id, 'cancelled', `reassigned to ${options.forceAgent} by ${options.actor}`);
        task = await updateTask(db, task.id, { status: 'pending', assigned_agent: null });
      }
    }
    if (task.status !== 'pending') {
      throw new TaskError(`task ${taskId} is ${task.status}; only pending tasks can be assigned`);
    }
    const [agents, load] = await Promise.all([listAgents(db), activeLoad(db)]);
    const escalation = await this.escalationOf(task);
    const decision = route(
      {
        type: task.type as TaskType,
        priority: task.priority as Priority,
        // After an escalation the `agent:` label no longer binds: that agent already failed.
        forcedAgent: options.forceAgent ?? (task.escalations > 0 ? null : task.forced_agent),
        excludeAgents: escalation.tried,
        minTier: escalation.minTier,
      },
      agents.map((a) => toRoutable(a, load)),
      { tiersByPriority: config.routing, exploration: config.coordinator.exploration },
    );

    if (decision.kind === 'pending') {
      if (task.pending_reason !== decision.reason) {
        await updateTask(db, task.id, { pending_reason: decision.reason });
        await audit(db, { event: 'task.pending', actor: options.actor, taskId, data: { reason: decision.reason } });
      }
      return decision;
    }

    const now = nowIso();
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('assignments')
        .values({ ...newAssignment(task.id, decision.agent, JSON.stringify(decision.reasons)), assigned_at: now })
        .execute();
      await trx
        .updateTable('tasks')
        .set({ status: 'assigned', assigned_agent: decision.agent, pending_reason: null, updated_at: now })
        .where('id', '=', task.id)
        .execute();
      await trx
        .updateTable('agents')
        .set((eb) => ({ total_tasks: eb('total_tasks', '+', 1), updated_at: now }))
        .where('name', '=', decision.agent)
        .execute();
    });
    await audit(db, {
      event: 'task.assigned',
      actor: options.actor,
      taskId,
      agentName: decision.agent,
      data: { reasons: decision.reasons, candidates: decision.candidates.slice(0, 10) },
    });
    return decision;
  }

  /** After an escalation: the agents that already failed this task, and the tier floor. */
  private async escalationOf(task: TaskRow): Promise<{ tried: string[]; minTier: AssignableTier | null }> {
    if (task.escalations === 0) return { tried: [], minTier: null };
    const rows = await this.deps.db
      .selectFrom('assignments')
      .select('agent_name')
      .where('task_id', '=', task.id)
      .where('status', '=', 'failed')
      .execute();
    return { tried: rows.map((r) => r.agent_name), minTier: (task.min_tier as AssignableTier | null) ?? null };
  }

  /** Tries every pending task, most urgent and oldest first; call when capacity frees up. */
  async routePending(actor = 'router'): Promise<number> {
    const tasks = (await pendingTasks(this.deps.db)).sort(
      (a, b) => priorityOrder[a.priority as Priority] - priorityOrder[b.priority as Priority] || a.id - b.id,
    );
    let assigned = 0;
    for (const task of tasks) {
      try {
        const decision = await this.tryAssign(task.id, { actor });
        if (decision.kind === 'assigned') assigned++;
      } catch (error) {
        // Another handler moved the task on since the list was read: nothing to route.
        if (!(error instanceof TaskError)) throw error;
      }
    }
    return assigned;
  }

  /**
   * Sends back to the router every task `agent` holds but has not started (after a
   * suspension). Returns how many went back.
   */
  async releaseAgent(agent: string, actor: string): Promise<number> {
    const { db } = this.deps;
    const held = await db
      .selectFrom('tasks')
      .selectAll()
      .where('assigned_agent', '=', agent)
      .where('status', '=', 'assigned')
      .execute();
    for (const task of held) {
      await this.releaseAssignments(task.id, 'cancelled', `agent ${agent} was suspended`);
      await updateTask(db, task.id, { status: 'pending', assigned_agent: null });
      await audit(db, { event: 'task.released', actor, taskId: task.id, agentName: agent, data: { reason: 'agent suspended' } });
    }
    await this.routePending(actor);
    return held.length;
  }

  private async releaseAssignments(taskId: number, status: 'cancelled' | 'failed', reason: string): Promise<void> {
    const released = await this.deps.db
      .updateTable('assignments')
      .set({ status, error: reason, finished_at: nowIso() })
      .where('task_id', '=', taskId)
      .where('status', 'in', ['assigned', 'in_progress'])
      .returning(['agent_name', 'started_at'])
      .execute();
    // A task taken back before it started was no experience: it must not shrink the agent's
    // exploration bonus.
    for (const r of released.filter((r) => status === 'cancelled' && r.started_at === null)) {
      await this.deps.db
        .updateTable('agents')
        .set((eb) => ({ total_tasks: eb('total_tasks', '-', 1) }))
        .where('name', '=', r.agent_name)
        .where('total_tasks', '>', 0)
        .execute();
    }
  }

  private async cancel(task: TaskRow, reason: string, actor: string): Promise<void> {
    await this.releaseAssignments(task.id, 'cancelled', reason);
    const updated = await updateTask(this.deps.db, task.id, {
      status: 'failed',
      error_message: reason,
      pending_reason: null,
      completed_at: nowIso(),
    });
    await audit(this.deps.db, { event: 'task.cancelled', actor, taskId: task.id, agentName: task.assigned_agent, data: { reason } });
    await this.syncIssue(updated);
    await this.routePending();
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
    const why = reasons ?? (agent ? await this.lastReasons(task.id) : undefined);
    const body = renderTaskComment({ task, agent, reasons: why });
    const labels = task.status === 'assigned' || task.status === 'in_progress' ? [config.labels.assigned] : [];
    const hash = hashComment(body, labels);
    if (hash === task.comment_hash) return;

    const client = await forges.get(forge, task.installation_id ?? undefined);
    const thread = { repo: { id: task.repo_id, fullName: task.repo }, number: task.issue_number, on: 'issue' as const };
    const commentId = await client.upsertComment(thread, taskMarker(task.id), body, task.comment_id);
    if (labels.length > 0) await client.addLabels(thread, labels);
    await updateTask(db, task.id, { comment_id: commentId, comment_hash: hash });
  }

  private async lastReasons(taskId: number): Promise<string[] | undefined> {
    const row = await this.deps.db
      .selectFrom('assignments')
      .select('reasons')
      .where('task_id', '=', taskId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? (JSON.parse(row.reasons) as string[]) : undefined;
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
function fallbackSpec(event: IssueEvent, config: Config): TaskSpec {
  return {
    type: config.labels.default_type,
    priority: config.labels.default_priority,
    tags: [],
    title: event.issue.title,
    description: event.issue.title,
    maxTokens: config.coordinator.max_tokens_default,
    timeoutMs: config.coordinator.task_timeout_default_ms,
    forcedAgent: null,
  };
}
