/**
 * Runs assigned tasks: hands them to the executor within its capacity, and turns each
 * result into state — a merge request and a completed task, an escalation to a higher tier,
 * or a failure shown on the issue. Each change is one transition of store/transitions.ts.
 * Durable: a run the process lost is failed and re-queued at start-up, and a merge request
 * that could not be opened (a forge error while publishing) is opened by the next poll or
 * the next start; nothing is left hanging.
 *
 * While the store is unreachable no run is started; a run that ends meanwhile waits for the
 * store before its result is recorded. When the store is back, a run whose bookkeeping the
 * outage cut off is failed and re-queued as at start-up, and dispatching resumes.
 */
import { announceTierChanges, recomputeAgent } from '../tiers/service.js';
import type { Kysely } from 'kysely';
import type { AgentFile } from '../agents/schema.js';
import type { AssignableTier, Config, Tier } from '../config/schema.js';
import type { Executor, RunRequest, RunResult } from '../executor/contract.js';
import type { ForgeDirectory } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { protectedPatterns, type GuardFinding } from '../policy/guards.js';
import { renderSystemPrompt } from '../pipeline/prompt.js';
import { isBudgetStop, tokensUsed } from '../runners/runner.js';
import { isStoreUnreachableError, type StoreAvailability } from '../store/health.js';
import type { EventOf, EventSink } from '../events.js';
import { getAgent } from '../store/agents.js';
import { audit } from '../store/audit.js';
import type { AssignmentRow, Database, TaskRow } from '../store/schema.js';
import { getTask } from '../store/tasks.js';
import {
  completeRun,
  dueRuns,
  escalate,
  failRound,
  failRun,
  published,
  publishingTasks,
  requeueInterruptedRuns,
  startRun,
  type RunUsage,
  type TaskSpend,
} from '../store/transitions.js';
import { KeyedMutex } from '../util/mutex.js';
import { branchName } from '../workspace/branch.js';
import { mergeRequestTitle, renderMergeRequestBody } from './merge-request.js';
import { publicFailureReason } from './failure.js';
import { decideRecovery } from './recovery.js';
import { roundDoneText, roundFailedText, roundMarker, type RoundView } from './round-reply.js';
import { readRoundInput } from './rounds.js';
import type { TaskService } from './service.js';

export interface RunCoordinatorDeps {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  executor: Executor;
  tasks: TaskService;
  /** Where a run says it ended (`run.finished`); see events.ts. */
  events: EventSink;
  log: Logger;
  /** Whether the store can be reached; absent, it is taken to be. */
  health?: StoreAvailability;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

/** How long a failed publish waits before the poll tries it again (doubling, capped). */
const PUBLISH_RETRY_MS = { base: 5_000, max: 300_000 };

export class RunCoordinator {
  private readonly running = new Map<number, Running>();
  private readonly lock = new KeyedMutex();
  /** Per running task: the tier floor a person asked for when they stopped it (`/doom escalate`). */
  private readonly escalationRequests = new Map<number, AssignableTier>();
  /** Per task: failed publishing attempts and when the next may be made. */
  private readonly publishBackoff = new Map<number, { failures: number; notBefore: number }>();
  private stopped = true;
  private poll: NodeJS.Timeout | null = null;
  /** Set when an outage may have cut a run's bookkeeping short: repaired before the next dispatch. */
  private repairAfterOutage = false;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: RunCoordinatorDeps) {}

  /** Fails and re-queues runs a previous process left in progress, finishes publishing, then starts dispatching. */
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
    const lost = await requeueInterruptedRuns(this.deps.db, { actor, runningTasks: [...this.running.keys()] });
    for (const run of lost) {
      this.deps.log.warn({ taskId: run.task_id, agent: run.agent_name }, `run interrupted by ${actor === 'startup' ? 'a stop' : 'a store outage'}: re-queued`);
    }
  }

  private storeReachable(): boolean {
    return this.deps.health?.current().reachable ?? true;
  }

  /** Stops dispatching and stops what is running; those runs are re-queued at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.poll) clearInterval(this.poll);
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort(new DOMException('the bot is shutting down', 'AbortError'));
    await Promise.all(all.map((r) => r.done));
    await this.lock.run('dispatch', async () => undefined);
  }

  /** Finishes publishing what is due, then starts assigned runs while the executor has room. */
  kick(): void {
    if (this.stopped || !this.storeReachable()) return;
    void this.lock
      .run('dispatch', async () => {
        await this.resumePublishing();
        await this.dispatch();
      })
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'dispatching runs failed'));
  }

  /** The consequence of `run.cancel_requested`: stops the task's run if it runs here (to escalate it, when asked). */
  async onCancelRequested(event: EventOf<'run.cancel_requested'>): Promise<void> {
    const run = this.running.get(event.taskId);
    if (!run) return;
    if (event.escalateTo) this.escalationRequests.set(event.taskId, event.escalateTo);
    run.controller.abort(new DOMException('cancelled by an operator', 'AbortError'));
    await audit(this.deps.db, { event: 'run.cancel_requested', actor: event.actor, taskId: event.taskId, data: { why: event.reason } });
  }

  /** Resolves when every run started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      // A dispatch under way may start more runs: wait for it, then for them.
      await this.lock.run('dispatch', async () => undefined);
      if (this.running.size === 0) return;
      await Promise.all([...this.running.values()].map((r) => r.done));
    }
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
    for (const run of await dueRuns(db, free + this.running.size)) {
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
    const { db, forges, executor, config, log, tasks } = this.deps;
    const queued = await getTask(db, run.task_id);
    const agent = await getAgent(db, run.agent_name);
    if (!queued || !agent) return;
    // The tier decides at the moment of starting: an agent suspended since it was assigned
    // gives the task back (tier.changed does so too; this holds when that consequence failed).
    // One suspended before it was assigned holds a probation task (routing/router.ts): it runs.
    if (agent.tier === 'suspended' && !(agent.tier_since !== null && agent.tier_since <= run.assigned_at)) {
      await tasks.releaseAgent(agent.name, 'executor');
      return;
    }
    const started = await startRun(db, run.id, queued.branch ?? branchName(queued.id, queued.title));
    if (!started) return; // cancelled or released while it waited
    const { task } = started;
    const branch = task.branch!;
    await this.syncIssue(task);

    const file = JSON.parse(agent.config) as AgentFile;
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
        maxUsd: task.max_usd,
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
      resume: !run.round_kind && task.kept_sha && task.kept_outcome ? { sha: task.kept_sha, stop: task.kept_outcome } : undefined,
      round: run.round_kind ? { kind: run.round_kind, round: run.round ?? 1, maxRounds: maxRoundsOf(config, run.round_kind), feedback: readRoundInput(run.round_input) } : undefined,
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
    if (run.round_kind) return this.finishRound(task, run, result);
    const { db, config, tasks, events } = this.deps;
    const escalationRequested = this.escalationRequests.get(task.id) ?? null;
    this.escalationRequests.delete(task.id);
    const recovery = decideRecovery({
      outcome: result.outcome,
      error: result.error,
      agentTier: tier,
      escalations: task.escalations,
      maxEscalations: config.executor.max_escalations,
      changed: result.commitSha !== null,
      escalationRequested,
    });
    const usage = runUsage(result);
    const spent: TaskSpend = {
      tokens_used: task.tokens_used + tokensUsed(result.usage),
      cost_usd: task.cost_usd + result.usage.costUsd,
      duration_ms: task.duration_ms + Math.round(result.durationMs),
    };
    const countAgainstAgent = result.outcome !== 'cancelled';

    switch (recovery.kind) {
      case 'complete': {
        const guards = result.guards ?? [];
        const outcome = { headSha: result.commitSha, summary: result.summary ?? null, changedFiles: result.changedFiles, guards };
        const publishing = await completeRun(db, run, { usage, spent, ...outcome });
        const stored = { summary: outcome.summary, changed_files: JSON.stringify(outcome.changedFiles), guards: JSON.stringify(guards) };
        if (publishing) await this.publish(publishing, { ...run, ...usage, ...stored });
        break;
      }
      case 'escalate': {
        // The work this run kept (or, if it kept none, what the one before it kept) is where the next run starts.
        const kept = keptWork(task, result);
        const pending = await escalate(db, run, { usage, spent, countAgainstAgent, minTier: recovery.minTier, reason: recovery.reason, kept });
        if (pending) await tasks.tryAssign(task.id, { actor: 'escalation' });
        break;
      }
      default: {
        // The issue gets a short reason; the raw error (command lines, paths, hosts) stays in the
        // run's row and the audit log, for `doom logs --task N`.
        const reason = publicFailureReason({ outcome: result.outcome, failure: result.failure, error: result.error, decided: recovery.error });
        const guard = result.failure?.stage === 'guard' ? { stage: 'guard', files: result.failure.files } : { stage: result.failure?.stage ?? null };
        const failed = await failRun(db, run, { usage, spent, countAgainstAgent, error: reason, data: { decided: recovery.error, ...guard } });
        if (failed) await this.syncIssue(failed);
      }
    }
    // A failed or empty run is a settled outcome of its agent: its tier may move.
    if (recovery.kind !== 'complete' && countAgainstAgent) await this.failedRunCounts(run.agent_name);
    await events.emit({ kind: 'run.finished', taskId: task.id, agent: run.agent_name, outcome: result.outcome });
  }

  /**
   * A round's end: a pushed follow-up commit is published like any run (the open MR updated)
   * and answered on the MR; anything else leaves the merge request as it was, the task
   * completed, and says why on the MR. A round never escalates: its agent is the MR's.
   */
  private async finishRound(task: TaskRow, run: AssignmentRow, result: RunResult): Promise<void> {
    const { db, events } = this.deps;
    const usage = runUsage(result);
    const spent: TaskSpend = {
      tokens_used: task.tokens_used + tokensUsed(result.usage),
      cost_usd: task.cost_usd + result.usage.costUsd,
      duration_ms: task.duration_ms + Math.round(result.durationMs),
    };
    if (result.outcome === 'success' && result.commitSha) {
      const guards = result.guards ?? [];
      const outcome = { headSha: result.commitSha, summary: result.summary ?? null, changedFiles: result.changedFiles, guards };
      const publishing = await completeRun(db, run, { usage, spent, ...outcome, round: true });
      const stored = { summary: outcome.summary, changed_files: JSON.stringify(outcome.changedFiles), guards: JSON.stringify(guards) };
      if (publishing) await this.publish(publishing, { ...run, ...usage, ...stored }, result.round);
    } else {
      const decided = result.outcome === 'success' ? 'the agent finished without changing any file' : (result.error?.trim() || `the run ended: ${result.outcome}`);
      const reason = publicFailureReason({ outcome: result.outcome, failure: result.failure, error: result.error, decided });
      const failed = await failRound(db, run, { usage, spent, error: reason, data: { stage: result.failure?.stage ?? null } });
      if (failed) {
        await this.syncIssue(failed);
        await this.replyOnRound(failed, run, (view) => roundFailedText({ ...view, reason }));
      }
    }
    await events.emit({ kind: 'run.finished', taskId: task.id, agent: run.agent_name, outcome: result.outcome });
  }

  /** The round's one comment on the merge request; a failure to post it does not undo the round. */
  private async replyOnRound(task: TaskRow, run: AssignmentRow, text: (view: RoundView) => string): Promise<void> {
    if (!run.round_kind || task.pr_number === null) return;
    const view: RoundView = {
      kind: run.round_kind,
      round: run.round ?? 1,
      maxRounds: maxRoundsOf(this.deps.config, run.round_kind),
      agent: run.agent_name,
      requestedBy: readRoundInput(run.round_input).requestedBy,
    };
    try {
      const forge = await this.deps.forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
      const thread = { repo: { id: task.repo_id, fullName: task.repo }, number: task.pr_number, on: 'merge_request' as const };
      await forge.upsertComment(thread, roundMarker(task.id, run.id), text(view));
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: task.id, run: run.id }, 'could not answer on the merge request about its round');
    }
  }

  private async failedRunCounts(agent: string): Promise<void> {
    const { db, config, events } = this.deps;
    const tier = await recomputeAgent(db, config, agent, 'rewards', 'executor');
    if (tier.changed) await announceTierChanges(events, [{ name: agent, from: tier.from, to: tier.agent.tier }], { source: 'rewards', actor: 'executor' });
  }

  /** Tasks left in `publishing` (a forge error, a crash): tried again once their backoff allows. */
  private async resumePublishing(): Promise<void> {
    const now = Date.now();
    for (const { task, run } of await publishingTasks(this.deps.db)) {
      if ((this.publishBackoff.get(task.id)?.notBefore ?? 0) > now) continue;
      await this.publish(task, run);
    }
  }

  /**
   * publishing → completed: opens the task's merge request, or updates the open one for its
   * branch, so a retry never opens a second. A forge error leaves the task publishing, to be
   * finished by a later pass.
   */
  private async publish(queued: TaskRow, run: AssignmentRow, round?: RunResult['round']): Promise<void> {
    // One publisher per task: the run that just finished and the poll's resume may meet here.
    await this.lock.run(`publish:${queued.id}`, async () => {
      const task = await getTask(this.deps.db, queued.id);
      if (task?.status === 'publishing') await this.publishLocked(task, run, round);
    });
  }

  /** `round`: what a round's own commit changed, while the run's result is in hand (a resumed publish says less). */
  private async publishLocked(task: TaskRow, run: AssignmentRow, round?: RunResult['round']): Promise<void> {
    const { db, config, forges, log } = this.deps;
    const agent = await getAgent(db, run.agent_name);
    const changedFiles = run.changed_files ? (JSON.parse(run.changed_files) as string[]) : [];
    const guards = run.guards ? (JSON.parse(run.guards) as GuardFinding[]) : [];
    let done: TaskRow | null;
    try {
      const forge = await forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
      const repo = { id: task.repo_id, fullName: task.repo };
      const body = renderMergeRequestBody({ task, run, agentTier: (agent?.tier ?? 'junior') as Tier, summary: run.summary, changedFiles, guards });
      const title = mergeRequestTitle(task);
      const flagged = guards.length > 0;
      const labels = [config.labels.bot_authored, ...(flagged ? [config.labels.protected_change] : [])];
      // A retry of the same task pushed to the same branch: update its MR, never open a second.
      const existing = await forge.findMergeRequestByBranch(repo, task.branch!);
      // A round continues its merge request: closed or merged meanwhile, it is not opened again.
      const closedUnder = !existing && run.round_kind && task.pr_number !== null && task.pr_url !== null ? { number: task.pr_number, url: task.pr_url } : null;
      const mr =
        closedUnder ??
        (existing
          ? await forge.updateMergeRequest(repo, existing.number, { title, body })
          : await forge.openMergeRequest(repo, { sourceBranch: task.branch!, targetBranch: task.default_branch, title, body, labels }));
      if (existing && flagged) await forge.addLabels({ repo, number: existing.number, on: 'merge_request' }, [config.labels.protected_change]);
      done = await published(db, task.id, {
        url: mr.url,
        number: mr.number,
        opened: !existing && !closedUnder,
        agent: run.agent_name,
        runId: run.id,
        data: { sha: task.head_sha, tokens: run.input_tokens + run.output_tokens + run.cache_tokens, cost_usd: run.cost_usd, guards },
      });
    } catch (error) {
      const failures = (this.publishBackoff.get(task.id)?.failures ?? 0) + 1;
      const wait = Math.min(PUBLISH_RETRY_MS.max, PUBLISH_RETRY_MS.base * 2 ** (failures - 1));
      this.publishBackoff.set(task.id, { failures, notBefore: Date.now() + wait });
      log.warn({ err: error, taskId: task.id, retryInMs: wait }, 'publishing the merge request failed; it is tried again');
      await audit(db, { event: 'mr.publish_failed', actor: 'executor', taskId: task.id, agentName: run.agent_name, data: { error: message(error), failures } });
      return;
    }
    this.publishBackoff.delete(task.id);
    if (done) await this.syncIssue(done);
    if (done && run.round_kind && done.head_sha) {
      const sha = done.head_sha;
      await this.replyOnRound(done, run, (view) => roundDoneText({ ...view, sha, baseSha: round?.baseSha ?? null, files: round?.files ?? null, summary: run.summary }));
    }
  }

  private async syncIssue(task: TaskRow): Promise<void> {
    try {
      await this.deps.tasks.syncIssue(task);
    } catch (error) {
      // The run goes on; the task's revision is ahead of the issue, so the reconcile shows it.
      this.deps.log.warn({ err: error, taskId: task.id }, 'could not update the issue');
    }
  }
}

/** What a stopped run leaves for the escalated one: its own kept commit, else the earlier one's. */
function keptWork(task: TaskRow, result: RunResult): Pick<TaskRow, 'kept_sha' | 'kept_outcome'> {
  if (result.commitSha && isBudgetStop(result.outcome)) return { kept_sha: result.commitSha, kept_outcome: result.outcome };
  return { kept_sha: task.kept_sha, kept_outcome: task.kept_outcome };
}

const maxRoundsOf = (config: Config, kind: 'revision' | 'ci_fix'): number => (kind === 'revision' ? config.review.max_rounds : config.ci_fix.max_rounds);

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function runUsage(result: RunResult): RunUsage {
  return {
    input_tokens: result.usage.inputTokens,
    output_tokens: result.usage.outputTokens,
    cache_tokens: result.usage.cacheReadTokens + result.usage.cacheCreationTokens,
    cost_usd: result.usage.costUsd,
    turns: result.usage.turns,
    transcript: result.transcript,
    outcome: result.outcome,
    error: result.error ?? null,
  };
}
