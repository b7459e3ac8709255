/**
 * Runs assigned tasks: hands them to the executor within its capacity, and turns each
 * result into state — a merge request and a completed task, an escalation to a higher tier,
 * or a failure shown on the issue. Durable: a run the process lost is failed and re-queued
 * at start-up, never left hanging.
 *
 * While the store is unreachable no run is started; a run that ends meanwhile waits for the
 * store before its result is recorded. When the store is back, a run whose bookkeeping the
 * outage cut off is failed and re-queued as at start-up, and dispatching resumes.
 */
import type { Kysely } from 'kysely';
import type { AgentFile } from '../agents/schema.js';
import type { Config, Tier } from '../config/schema.js';
import type { Executor, RunRequest, RunResult } from '../executor/contract.js';
import type { ForgeDirectory } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { isStoreUnreachableError, type StoreAvailability } from '../store/health.js';
import { renderSystemPrompt } from '../pipeline/prompt.js';
import { isBudgetStop, tokensUsed } from '../runners/runner.js';
import { getAgent } from '../store/agents.js';
import { newAssignment, recordPublication } from '../store/assignments.js';
import { audit } from '../store/audit.js';
import type { AssignmentRow, Database, TaskRow } from '../store/schema.js';
import { getTask, updateTask } from '../store/tasks.js';
import { nowIso } from '../store/time.js';
import { KeyedMutex } from '../util/mutex.js';
import { branchName } from '../workspace/branch.js';
import { mergeRequestTitle, renderMergeRequestBody } from './merge-request.js';
import { protectedPatterns } from '../policy/guards.js';
import { publicFailureReason } from './failure.js';
import { decideRecovery } from './recovery.js';
import type { TaskService } from './service.js';

export interface RunCoordinatorDeps {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  executor: Executor;
  tasks: TaskService;
  log: Logger;
  /** Whether the store can be reached; absent, it is taken to be. */
  health?: StoreAvailability;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export class RunCoordinator {
  private readonly running = new Map<number, Running>();
  private readonly lock = new KeyedMutex();
  private stopped = true;
  private poll: NodeJS.Timeout | null = null;
  /** Set when an outage may have cut a run's bookkeeping short: repaired before the next dispatch. */
  private repairAfterOutage = false;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: RunCoordinatorDeps) {}

  /** Fails and re-queues runs a previous process left in progress, then starts dispatching. */
  async start(): Promise<void> {
    await this.requeueLost('startup');
    this.stopped = false;
    this.unsubscribe =
      this.deps.health?.onChange((state) => {
        if (state.reachable) {
          this.deps.log.info('runs resumed: the store is back');
          this.kick();
        } else {
          this.repairAfterOutage = true;
          this.deps.log.warn({ reason: state.reason }, 'runs paused: the store is unreachable');
        }
      }) ?? null;
    this.kick();
    // The CLI assigns tasks from another process: look for them now and then, too.
    this.poll = setInterval(() => this.kick(), 5_000);
    this.poll.unref();
  }

  /**
   * Fails and re-queues the runs left in progress that this process is not running: all of
   * them at start-up, those an outage interrupted afterwards (one replica, as in *Deploying*).
   */
  private async requeueLost(actor: 'startup' | 'store-outage'): Promise<void> {
    const { db, log } = this.deps;
    const inProgress = await db.selectFrom('assignments').selectAll().where('status', '=', 'in_progress').execute();
    const lost = inProgress.filter((run) => !this.running.has(run.task_id));
    for (const run of lost) {
      const now = nowIso();
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('assignments')
          .set({ status: 'failed', outcome: 'interrupted', error: 'the bot stopped while the run was in progress', finished_at: now })
          .where('id', '=', run.id)
          .execute();
        await trx.insertInto('assignments').values({ ...newAssignment(run.task_id, run.agent_name, run.reasons), assigned_at: now }).execute();
        await trx.updateTable('tasks').set({ status: 'assigned', updated_at: now }).where('id', '=', run.task_id).execute();
      });
      await audit(db, { event: 'run.requeued', actor, taskId: run.task_id, agentName: run.agent_name, data: { run: run.id } });
      log.warn({ taskId: run.task_id, agent: run.agent_name }, `run interrupted by ${actor === 'startup' ? 'a stop' : 'a store outage'}: re-queued`);
    }
  }

  /** Stops dispatching and stops what is running; those runs are re-queued at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.poll) clearInterval(this.poll);
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort(new DOMException('the bot is shutting down', 'AbortError'));
    await Promise.all(all.map((r) => r.done));
  }

  /** Starts assigned runs while the executor has room. */
  kick(): void {
    if (this.stopped || !this.storeReachable()) return;
    void this.lock
      .run('dispatch', () => this.dispatch())
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'dispatching runs failed'));
  }

  /** Cancels a task's run; false when it has none running here. */
  cancel(taskId: number): boolean {
    const run = this.running.get(taskId);
    if (!run) return false;
    run.controller.abort(new DOMException('cancelled by an operator', 'AbortError'));
    return true;
  }

  /** Resolves when every run started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private storeReachable(): boolean {
    return this.deps.health?.current().reachable ?? true;
  }

  private async dispatch(): Promise<void> {
    const { db, executor } = this.deps;
    if (!this.storeReachable()) return;
    if (this.repairAfterOutage) {
      this.repairAfterOutage = false;
      try {
        await this.requeueLost('store-outage');
      } catch (error) {
        this.repairAfterOutage = true;
        throw error;
      }
    }
    const free = executor.capacity - this.running.size;
    if (free <= 0) return;
    const due = await db
      .selectFrom('assignments')
      .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
      .selectAll('assignments')
      .where('assignments.status', '=', 'assigned')
      .where('tasks.status', '=', 'assigned')
      .orderBy('tasks.priority')
      .orderBy('assignments.id')
      .limit(free + this.running.size)
      .execute();
    for (const run of due) {
      if (this.running.size >= executor.capacity) break;
      if (this.running.has(run.task_id)) continue;
      const controller = new AbortController();
      const entry: Running = { controller, done: Promise.resolve() };
      this.running.set(run.task_id, entry);
      entry.done = this.execute(run, controller.signal)
        .catch((error: unknown) => {
          if (this.storeReachable()) this.deps.log.error({ err: error, taskId: run.task_id }, 'run bookkeeping failed');
          else this.deps.log.warn({ err: error, taskId: run.task_id }, 'run bookkeeping cut off by a store outage: re-queued when it is back');
          // The outage may already be over when its error arrives here: repair before the next dispatch.
          if (!this.storeReachable() || isStoreUnreachableError(error)) this.repairAfterOutage = true;
        })
        .finally(() => {
          this.running.delete(run.task_id);
          this.kick();
        });
    }
  }

  private async execute(run: AssignmentRow, signal: AbortSignal): Promise<void> {
    const { db, forges, executor, config, log } = this.deps;
    let task = await getTask(db, run.task_id);
    const agent = await getAgent(db, run.agent_name);
    if (!task || !agent) return;
    const file = JSON.parse(agent.config) as AgentFile;
    const branch = task.branch ?? branchName(task.id, task.title);
    const started = nowIso();
    await db.updateTable('assignments').set({ status: 'in_progress', started_at: started, branch }).where('id', '=', run.id).execute();
    task = await updateTask(db, task.id, { status: 'in_progress', branch });
    await audit(db, { event: 'run.started', actor: 'executor', taskId: task.id, agentName: agent.name, data: { run: run.id, branch } });
    await this.syncIssue(task);

    const forge = await forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
    const repo = { id: task.repo_id, fullName: task.repo };
    const request: RunRequest = {
      runId: run.id,
      task: {
        id: task.id,
        type: task.type,
        priority: task.priority,
        title: task.title,
        description: task.description,
        tags: JSON.parse(task.tags) as string[],
        issueUrl: task.issue_url,
        maxTokens: task.max_tokens,
        timeoutMs: task.timeout_ms,
      },
      agent: {
        name: agent.name,
        tier: agent.tier,
        systemPrompt: renderSystemPrompt(file.context.system_prompt, {
          tier: agent.tier,
          type: task.type,
          custom_instructions: file.context.custom_instructions,
        }),
        toolsAllowed: file.context.tools_allowed,
        runner: file.runner,
        permissions: file.permissions,
      },
      repository: { forge: task.forge, fullName: task.repo, cloneUrl: task.clone_url, defaultBranch: task.default_branch },
      branch,
      // Work an earlier run kept on the branch when its budget ran out: the escalated run continues it.
      resume: task.kept_sha && task.kept_outcome ? { sha: task.kept_sha, stop: task.kept_outcome } : undefined,
      credential: () => forge.gitCredential(repo),
      author: { name: config.executor.bot_name, email: config.executor.bot_email },
      policy: { protectedPaths: protectedPatterns(config.policy, task.repo), onProtectedChange: config.policy.on_protected_change },
    };
    const result = await executor.run(request, signal);
    if (this.stopped && result.outcome === 'cancelled') {
      // Shutting down: the run stays in progress and the next start re-queues it.
      log.warn({ taskId: task.id, agent: agent.name }, 'run stopped by shutdown');
      return;
    }
    log.info({ taskId: task.id, agent: agent.name, outcome: result.outcome, ms: Math.round(result.durationMs) }, 'run ended');
    // The result is in hand and nothing of it is written yet: hold it until the store is back.
    await this.deps.health?.whenReachable(signal);
    if (!this.storeReachable()) return; // stopped or cancelled first: re-queued when the store is back, or at the next start
    await this.finish(task, run, agent.tier as Tier, result);
  }

  private async finish(task: TaskRow, run: AssignmentRow, tier: Tier, result: RunResult): Promise<void> {
    const { db, config, forges, tasks } = this.deps;
    const recovery = decideRecovery({
      outcome: result.outcome,
      error: result.error,
      agentTier: tier,
      escalations: task.escalations,
      maxEscalations: config.executor.max_escalations,
      changed: result.commitSha !== null,
    });
    const now = nowIso();
    const usage = {
      input_tokens: result.usage.inputTokens,
      output_tokens: result.usage.outputTokens,
      cache_tokens: result.usage.cacheReadTokens + result.usage.cacheCreationTokens,
      cost_usd: result.usage.costUsd,
      turns: result.usage.turns,
      transcript: result.transcript,
      finished_at: now,
      outcome: result.outcome,
      error: result.error ?? null,
    };
    const spent = {
      tokens_used: task.tokens_used + tokensUsed(result.usage),
      cost_usd: task.cost_usd + result.usage.costUsd,
      duration_ms: task.duration_ms + Math.round(result.durationMs),
    };

    if (recovery.kind === 'complete') {
      await db.updateTable('assignments').set({ ...usage, status: 'completed' }).where('id', '=', run.id).execute();
      const current = { ...task, ...spent };
      const forge = await forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
      const repo = { id: task.repo_id, fullName: task.repo };
      const body = renderMergeRequestBody({
        task: current,
        run: { ...run, ...usage },
        agentTier: tier,
        summary: result.summary ?? null,
        changedFiles: result.changedFiles,
        guards: result.guards ?? [],
      });
      const title = mergeRequestTitle(task);
      const flagged = (result.guards ?? []).length > 0;
      const labels = [config.labels.bot_authored, ...(flagged ? [config.labels.protected_change] : [])];
      // A retry of the same task pushed to the same branch: update its MR, never open a second.
      const existing = await forge.findMergeRequestByBranch(repo, task.branch!);
      const mr = existing
        ? await forge.updateMergeRequest(repo, existing.number, { title, body })
        : await forge.openMergeRequest(repo, {
            sourceBranch: task.branch!,
            targetBranch: task.default_branch,
            title,
            body,
            labels,
          });
      if (existing && flagged) await forge.addLabels({ repo, number: existing.number, on: 'merge_request' }, [config.labels.protected_change]);
      const done = await updateTask(db, task.id, {
        ...spent,
        status: 'completed',
        head_sha: result.commitSha,
        pr_url: mr.url,
        pr_number: mr.number,
        completed_at: now,
        error_message: null,
        kept_sha: null,
        kept_outcome: null,
      });
      await recordPublication(db, run.id, { headSha: result.commitSha, mrNumber: mr.number, mrUrl: mr.url });
      await db
        .updateTable('agents')
        .set((eb) => ({ completed_tasks: eb('completed_tasks', '+', 1), updated_at: now }))
        .where('name', '=', run.agent_name)
        .execute();
      await audit(db, {
        event: existing ? 'mr.updated' : 'mr.opened',
        actor: 'executor',
        taskId: task.id,
        agentName: run.agent_name,
        data: {
          url: mr.url,
          number: mr.number,
          sha: result.commitSha,
          tokens: tokensUsed(result.usage),
          cost_usd: result.usage.costUsd,
          guards: result.guards ?? [],
        },
      });
      await this.syncIssue(done);
      await tasks.routePending('executor');
      return;
    }

    await db.updateTable('assignments').set({ ...usage, status: 'failed' }).where('id', '=', run.id).execute();
    if (result.outcome !== 'cancelled') {
      await db
        .updateTable('agents')
        .set((eb) => ({ failed_tasks: eb('failed_tasks', '+', 1), updated_at: now }))
        .where('name', '=', run.agent_name)
        .execute();
    }
    if (recovery.kind === 'escalate') {
      // The work this run kept (or, if it kept none, what the one before it kept) is where the next run starts.
      const kept = keptWork(task, result);
      await updateTask(db, task.id, {
        ...spent,
        ...kept,
        status: 'pending',
        assigned_agent: null,
        escalations: task.escalations + 1,
        min_tier: recovery.minTier,
        pending_reason: recovery.reason,
      });
      await audit(db, {
        event: 'task.escalated',
        actor: 'executor',
        taskId: task.id,
        agentName: run.agent_name,
        data: { outcome: result.outcome, to: recovery.minTier, reason: recovery.reason, error: result.error ?? null, kept: kept.kept_sha },
      });
      await tasks.tryAssign(task.id, { actor: 'escalation' });
      await tasks.routePending('executor');
      return;
    }
    // The issue gets a short reason; the raw error (command lines, paths, hosts) stays in the
    // run's row and the audit log, for `doom logs --task N`.
    const reason = publicFailureReason({ outcome: result.outcome, failure: result.failure, error: result.error, decided: recovery.error });
    const failed = await updateTask(db, task.id, {
      ...spent,
      status: 'failed',
      error_message: reason,
      completed_at: now,
      kept_sha: null,
      kept_outcome: null,
    });
    await audit(db, {
      event: 'task.failed',
      actor: 'executor',
      taskId: task.id,
      agentName: run.agent_name,
      data: { outcome: result.outcome, reason, error: recovery.error, stage: result.failure?.stage ?? null, files: result.failure?.stage === 'guard' ? result.failure.files : undefined },
    });
    await this.syncIssue(failed);
    await tasks.routePending('executor');
  }

  private async syncIssue(task: TaskRow): Promise<void> {
    try {
      await this.deps.tasks.syncIssue(task);
    } catch (error) {
      // The run goes on; the next state change syncs the comment again (its hash differs).
      this.deps.log.warn({ err: error, taskId: task.id }, 'could not update the issue');
    }
  }
}

/** What a stopped run leaves for the escalated one: its own kept commit, else the earlier one's. */
function keptWork(task: TaskRow, result: RunResult): Pick<TaskRow, 'kept_sha' | 'kept_outcome'> {
  if (result.commitSha && isBudgetStop(result.outcome)) return { kept_sha: result.commitSha, kept_outcome: result.outcome };
  return { kept_sha: task.kept_sha, kept_outcome: task.kept_outcome };
}
