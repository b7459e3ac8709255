/**
 * Task and run states, one named transition each, each one transaction: the task row, its
 * assignments (runs), the agent's counters and the audit entry move together or not at all,
 * so no crash or error can leave a task half-moved. A transition names the states it leaves
 * from; when the row is no longer in one of them (another handler moved it first) it changes
 * nothing and returns null, and the caller decides again on a fresh read.
 *
 * ```
 *  pending ──assign──▶ assigned ──startRun──▶ in_progress ──completeRun──▶ publishing ──published──▶ completed
 *     ▲  ▲               │  ▲                   │    │                                                │
 *     │  └──release──────┘  └─requeueInterrupted┘    ├──escalate──▶ pending                           │
 *     │                                              └──failRun───▶ failed ◀──cancel── pending|assigned
 *     └────────────────────────────── requeue ◀── completed | failed ◀─────────────────────────────────┘
 * ```
 *
 * What people ask for in comments (`/doom retry`, `/doom escalate`) is `retry` and
 * `escalateByRequest`: pending | assigned | completed | failed → pending, with a tier floor.
 * `raiseBudget` changes the token budget in any state but publishing.
 *
 * ```ts
 * const started = await startRun(db, run.id, branch);
 * if (!started) return; // cancelled or released while it waited
 * ...
 * await completeRun(db, run, { usage, spent, headSha, summary, changedFiles });
 * await published(db, task.id, { url, number, opened: true, data: {} });
 * ```
 *
 * The model is deliveries.ts with the inbox processor: claim, mark, requeue what was
 * interrupted. `publishing` is the resumable step: `publishingTasks` lists what a previous
 * attempt (or process) did not finish.
 */
import type { GuardFinding } from '../policy/guards.js';
import type { Kysely, Transaction } from 'kysely';
import type { AssignmentRow, Database, RoundKind, TaskRow, TaskStatus, TaskUpdate } from './schema.js';
import { newAssignment, publishedAttempt } from './assignments.js';
import { decideRound, type RoundDecision, type RoundInput } from '../tasks/rounds.js';
import { nowIso } from './time.js';

type Db = Kysely<Database>;
type Trx = Transaction<Database>;

/** What one run spent and how it ended, as its assignment row keeps it. */
export interface RunUsage {
  input_tokens: number;
  output_tokens: number;
  cache_tokens: number;
  cost_usd: number;
  turns: number;
  transcript: string | null;
  outcome: string;
  error: string | null;
}

/** The task's running totals after a run. */
export interface TaskSpend {
  tokens_used: number;
  cost_usd: number;
  duration_ms: number;
}

interface Entry {
  event: string;
  actor: string;
  taskId: number;
  agentName?: string | null;
  data?: Record<string, unknown>;
}

async function log(trx: Trx, entry: Entry, at: string): Promise<void> {
  await trx
    .insertInto('audit_log')
    .values({ at, event: entry.event, actor: entry.actor, task_id: entry.taskId, agent_name: entry.agentName ?? null, data: JSON.stringify(entry.data ?? {}) })
    .execute();
}

/** Moves the task to `patch` if it is in one of `from`; the revision tells the issue it is behind. */
async function moveTask(trx: Trx, id: number, from: readonly TaskStatus[], patch: TaskUpdate, at: string): Promise<TaskRow | undefined> {
  return trx
    .updateTable('tasks')
    .set((eb) => ({ ...patch, updated_at: at, revision: eb('revision', '+', 1) }))
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .returningAll()
    .executeTakeFirst();
}

const bump = (trx: Trx, agent: string, column: 'total_tasks' | 'completed_tasks' | 'failed_tasks', at: string) =>
  trx
    .updateTable('agents')
    .set((eb) => ({ [column]: eb(column, '+', 1), updated_at: at }))
    .where('name', '=', agent)
    .execute();

/**
 * Ends the task's open assignments. A task taken back before it started was no experience:
 * it does not shrink the agent's exploration bonus.
 */
async function endOpenAssignments(trx: Trx, taskId: number, status: 'cancelled' | 'failed', reason: string, at: string): Promise<void> {
  const ended = await trx
    .updateTable('assignments')
    .set({ status, error: reason, finished_at: at })
    .where('task_id', '=', taskId)
    .where('status', 'in', ['assigned', 'in_progress'])
    .returning(['agent_name', 'started_at'])
    .execute();
  for (const r of ended.filter((r) => status === 'cancelled' && r.started_at === null)) {
    await trx
      .updateTable('agents')
      .set((eb) => ({ total_tasks: eb('total_tasks', '-', 1) }))
      .where('name', '=', r.agent_name)
      .where('total_tasks', '>', 0)
      .execute();
  }
}

/** pending → assigned: a new assignment to `agent`, and one more task on its count. */
export async function assign(
  db: Db,
  input: { taskId: number; agent: string; reasons: string[]; actor: string; data?: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(trx, input.taskId, ['pending'], { status: 'assigned', assigned_agent: input.agent, pending_reason: null }, at);
    if (!task) return null;
    await trx.insertInto('assignments').values({ ...newAssignment(task.id, input.agent, JSON.stringify(input.reasons)), assigned_at: at }).execute();
    await bump(trx, input.agent, 'total_tasks', at);
    await trx.updateTable('agents').set({ last_assigned_at: at }).where('name', '=', input.agent).execute();
    await log(trx, { event: 'task.assigned', actor: input.actor, taskId: task.id, agentName: input.agent, data: { reasons: input.reasons, ...input.data } }, at);
    return task;
  });
}

/**
 * assigned → pending: the task goes back to the router (its agent was suspended, it was
 * forced onto another agent, or what routing decides on changed). `fields` may change the
 * spec in the same step. A queued round (a revision, a CI fix) goes back to completed instead.
 */
export async function release(
  db: Db,
  taskId: number,
  input: { reason: string; actor: string; event?: string; fields?: TaskUpdate; data?: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const open = await trx.selectFrom('assignments').select(['id', 'round_kind']).where('task_id', '=', taskId).where('status', '=', 'assigned').executeTakeFirst();
    if (open?.round_kind) {
      // A round belongs to the MR's agent: given back, it is dropped and the merge request stands
      // (the router would start a new attempt from the default branch, over the MR's branch).
      const task = await moveTask(trx, taskId, ['assigned'], { ...input.fields, status: 'completed', completed_at: at }, at);
      if (!task) return null;
      await endOpenAssignments(trx, taskId, 'cancelled', input.reason, at);
      await log(trx, { event: 'round.dropped', actor: input.actor, taskId, data: { run: open.id, reason: input.reason, ...input.data } }, at);
      return task;
    }
    const task = await moveTask(trx, taskId, ['assigned'], { ...input.fields, status: 'pending', assigned_agent: null }, at);
    if (!task) return null;
    await endOpenAssignments(trx, taskId, 'cancelled', input.reason, at);
    await log(trx, { event: input.event ?? 'task.released', actor: input.actor, taskId, data: { reason: input.reason, ...input.data } }, at);
    return task;
  });
}

/** pending | assigned → failed, as cancelled: the issue was closed or lost its trigger label. */
export async function cancel(db: Db, taskId: number, input: { reason: string; actor: string }): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const before = await trx.selectFrom('tasks').select('assigned_agent').where('id', '=', taskId).executeTakeFirst();
    const task = await moveTask(trx, taskId, ['pending', 'assigned'], { status: 'failed', error_message: input.reason, pending_reason: null, completed_at: at }, at);
    if (!task) return null;
    await endOpenAssignments(trx, taskId, 'cancelled', input.reason, at);
    await log(trx, { event: 'task.cancelled', actor: input.actor, taskId, agentName: before?.assigned_agent ?? null, data: { reason: input.reason } }, at);
    return task;
  });
}

/** pending | failed → failed: the issue does not describe a valid task. */
export async function reject(db: Db, taskId: number, input: { error: string; actor: string }): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(trx, taskId, ['pending', 'failed'], { status: 'failed', error_message: input.error, pending_reason: null }, at);
    if (task) await log(trx, { event: 'task.rejected', actor: input.actor, taskId, data: { error: input.error } }, at);
    return task ?? null;
  });
}

/** completed | failed → pending: another attempt, with the issue as it is now. */
export async function requeue(db: Db, taskId: number, input: { fields: TaskUpdate; actor: string; action: string }): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(
      trx,
      taskId,
      ['completed', 'failed'],
      { ...input.fields, status: 'pending', error_message: null, assigned_agent: null, escalations: 0, min_tier: null, completed_at: null, pending_since: at },
      at,
    );
    if (task) await log(trx, { event: 'task.requeued', actor: input.actor, taskId, data: { action: input.action } }, at);
    return task ?? null;
  });
}

/**
 * pending | assigned | completed | failed → pending: a person asked for a new attempt
 * (`/doom retry`, `/doom assign` on a finished task). An unstarted assignment is taken back
 * (no experience, as in `release`); `minTier` is the floor the router keeps to (null: none).
 * A finished task keeps its runs and rewards; `fields` says where the new attempt publishes.
 */
export async function retry(
  db: Db,
  taskId: number,
  input: { minTier: string | null; actor: string; fields?: TaskUpdate; data?: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(
      trx,
      taskId,
      ['pending', 'assigned', 'completed', 'failed'],
      { ...input.fields, status: 'pending', assigned_agent: null, error_message: null, pending_reason: null, escalations: 0, min_tier: input.minTier, completed_at: null },
      at,
    );
    if (!task) return null;
    await endOpenAssignments(trx, taskId, 'cancelled', `retried by ${input.actor}`, at);
    await log(trx, { event: 'task.retried', actor: input.actor, taskId, data: { min_tier: input.minTier, ...input.data } }, at);
    return task;
  });
}

/**
 * pending | assigned | completed | failed → pending, one tier floor up: a person asked for a
 * stronger agent (`/doom escalate`). As an escalation after a run does, it counts one more
 * escalation, so the router passes over the agents whose runs of the task failed.
 */
export async function escalateByRequest(
  db: Db,
  taskId: number,
  input: { minTier: string; actor: string; fields?: TaskUpdate },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const reason = `escalated to ${input.minTier} or above by ${input.actor}`;
    const task = await moveTask(
      trx,
      taskId,
      ['pending', 'assigned', 'completed', 'failed'],
      { ...input.fields, status: 'pending', assigned_agent: null, error_message: null, pending_reason: null, min_tier: input.minTier, completed_at: null },
      at,
    );
    if (!task) return null;
    const escalated = await trx
      .updateTable('tasks')
      .set((eb) => ({ escalations: eb('escalations', '+', 1) }))
      .where('id', '=', taskId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await endOpenAssignments(trx, taskId, 'cancelled', reason, at);
    await log(trx, { event: 'task.escalated', actor: input.actor, taskId, data: { to: input.minTier, reason, requested: true } }, at);
    return escalated;
  });
}

/**
 * Raises a task's token budget (`/doom budget`), in any state but publishing: a run under way
 * keeps the budget it started with, the next one gets this. Only upwards: null when the task
 * already has at least `maxTokens`, or is publishing.
 */
export async function raiseBudget(
  db: Db,
  taskId: number,
  input: ({ maxTokens: number } | { maxUsd: number }) & { actor: string },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const before = await trx.selectFrom('tasks').select(['max_tokens', 'max_usd']).where('id', '=', taskId).executeTakeFirst();
    if (!before) return null;
    // Only ever raised: a dollar budget set where there was none is a first one, never a lower one.
    const change =
      'maxTokens' in input
        ? before.max_tokens < input.maxTokens && { fields: { max_tokens: input.maxTokens }, data: { from: before.max_tokens, to: input.maxTokens } }
        : (before.max_usd === null || before.max_usd < input.maxUsd) && { fields: { max_usd: input.maxUsd }, data: { from_usd: before.max_usd, to_usd: input.maxUsd } };
    if (!change) return null;
    const task = await moveTask(trx, taskId, ['pending', 'assigned', 'in_progress', 'completed', 'failed'], change.fields, at);
    if (task) await log(trx, { event: 'task.budget_raised', actor: input.actor, taskId, data: change.data }, at);
    return task ?? null;
  });
}

/** pending | assigned, spec changed without routing inputs: the agent simply gets the new spec. */
export async function updateSpec(db: Db, taskId: number, input: { fields: TaskUpdate; actor: string; data: Record<string, unknown> }): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(trx, taskId, ['pending', 'assigned'], input.fields, at);
    if (task) await log(trx, { event: 'task.updated', actor: input.actor, taskId, data: input.data }, at);
    return task ?? null;
  });
}

/** assigned → in_progress, for the task and its assignment. Null when the task moved meanwhile. */
export async function startRun(db: Db, runId: number, branch: string): Promise<{ task: TaskRow; run: AssignmentRow } | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const run = await trx
      .updateTable('assignments')
      // The attempt records the branch it works on (a relabel's next attempt may use another).
      .set({ status: 'in_progress', started_at: at, branch })
      .where('id', '=', runId)
      .where('status', '=', 'assigned')
      .returningAll()
      .executeTakeFirst();
    if (!run) return null;
    const task = await moveTask(trx, run.task_id, ['assigned'], { status: 'in_progress', branch }, at);
    if (!task) {
      // Rolls the assignment back too: the task is not this run's to start.
      throw new TransitionRace(run.task_id);
    }
    await log(trx, { event: 'run.started', actor: 'executor', taskId: task.id, agentName: run.agent_name, data: { run: run.id, branch } }, at);
    return { task, run };
  }).catch((error: unknown) => {
    if (error instanceof TransitionRace) return null;
    throw error;
  });
}

class TransitionRace extends Error {
  constructor(readonly taskId: number) {
    super(`task ${taskId} moved while its run was being started`);
  }
}

/**
 * in_progress → publishing: the run succeeded and its branch is pushed. What the merge
 * request needs (summary, changed files, usage) is kept with the run, so `published` can be
 * reached by a later pass.
 */
export async function completeRun(
  db: Db,
  run: Pick<AssignmentRow, 'id' | 'task_id' | 'agent_name'>,
  input: {
    usage: RunUsage;
    spent: TaskSpend;
    headSha: string | null;
    summary: string | null;
    changedFiles: readonly string[];
    guards?: readonly GuardFinding[];
    /** A round (store/rounds) is a run of a task the agent already completed: not another completed task. */
    round?: boolean;
  },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const done = { ...input.spent, status: 'publishing', head_sha: input.headSha, error_message: null, kept_sha: null, kept_outcome: null } as const;
    const task = await moveTask(trx, run.task_id, ['in_progress'], done, at);
    if (!task) return null;
    await trx
      .updateTable('assignments')
      .set({
        ...input.usage,
        status: 'completed',
        finished_at: at,
        summary: input.summary,
        changed_files: JSON.stringify(input.changedFiles),
        guards: JSON.stringify(input.guards ?? []),
      })
      .where('id', '=', run.id)
      .execute();
    if (!input.round) await bump(trx, run.agent_name, 'completed_tasks', at);
    await log(trx, { event: 'run.completed', actor: 'executor', taskId: task.id, agentName: run.agent_name, data: { run: run.id, sha: input.headSha } }, at);
    return task;
  });
}

/** publishing → completed: the merge request is open (or updated) at `mr`. */
export async function published(
  db: Db,
  taskId: number,
  mr: { url: string; number: number; opened: boolean; agent: string; runId?: number; data: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(trx, taskId, ['publishing'], { status: 'completed', pr_url: mr.url, pr_number: mr.number, completed_at: at }, at);
    if (!task) return null;
    // The attempt records what it published: the evaluator scores this attempt's reward by it.
    if (mr.runId !== undefined) {
      await trx.updateTable('assignments').set({ head_sha: task.head_sha, mr_number: mr.number, mr_url: mr.url }).where('id', '=', mr.runId).execute();
    }
    await log(trx, { event: mr.opened ? 'mr.opened' : 'mr.updated', actor: 'executor', taskId, agentName: mr.agent, data: { url: mr.url, number: mr.number, ...mr.data } }, at);
    return task;
  });
}

interface RunEnd {
  usage: RunUsage;
  spent: TaskSpend;
  /** A cancelled run does not count against the agent. */
  countAgainstAgent: boolean;
}

async function endRun(trx: Trx, run: Pick<AssignmentRow, 'id' | 'agent_name'>, end: RunEnd, at: string): Promise<void> {
  // A failed run the agent answers for is a settled outcome (see store/outcomes.ts).
  const counts_against = end.countAgainstAgent ? 1 : 0;
  await trx.updateTable('assignments').set({ ...end.usage, status: 'failed', finished_at: at, counts_against }).where('id', '=', run.id).execute();
  if (end.countAgainstAgent) await bump(trx, run.agent_name, 'failed_tasks', at);
}

/** in_progress → failed: the run failed (or was cancelled) and nothing recovers it. */
export async function failRun(
  db: Db,
  run: Pick<AssignmentRow, 'id' | 'task_id' | 'agent_name'>,
  /** `error`: the short public reason the issue shows; the raw error stays in the run's row. */
  input: RunEnd & { error: string; data?: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const ended = { ...input.spent, status: 'failed', error_message: input.error, completed_at: at, kept_sha: null, kept_outcome: null } as const;
    const task = await moveTask(trx, run.task_id, ['in_progress'], ended, at);
    if (!task) return null;
    await endRun(trx, run, input, at);
    const data = { outcome: input.usage.outcome, reason: input.error, error: input.usage.error, ...input.data };
    await log(trx, { event: 'task.failed', actor: 'executor', taskId: task.id, agentName: run.agent_name, data }, at);
    return task;
  });
}

/** in_progress → pending, one tier floor up: a timeout or token limit goes to a stronger agent. */
export async function escalate(
  db: Db,
  run: Pick<AssignmentRow, 'id' | 'task_id' | 'agent_name'>,
  /** `kept`: the budget-stopped work the next run starts from (store the earlier one's if this run kept none). */
  input: RunEnd & { minTier: string; reason: string; kept?: Pick<TaskRow, 'kept_sha' | 'kept_outcome'> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(
      trx,
      run.task_id,
      ['in_progress'],
      { ...input.spent, ...input.kept, status: 'pending', assigned_agent: null, min_tier: input.minTier, pending_reason: input.reason },
      at,
    );
    if (!task) return null;
    const escalated = await trx
      .updateTable('tasks')
      .set((eb) => ({ escalations: eb('escalations', '+', 1) }))
      .where('id', '=', task.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await endRun(trx, run, input, at);
    await log(
      trx,
      {
        event: 'task.escalated',
        actor: 'executor',
        taskId: task.id,
        agentName: run.agent_name,
        data: { outcome: input.usage.outcome, to: input.minTier, reason: input.reason, error: input.usage.error, kept: input.kept?.kept_sha ?? null },
      },
      at,
    );
    return escalated;
  });
}

/**
 * in_progress (a run a previous process lost) → assigned again, to the same agent: the lost
 * run is kept, failed as `interrupted`. Returns the runs it re-queued.
 */
export async function requeueInterruptedRuns(
  db: Db,
  options: { actor: 'startup' | 'store-outage'; runningTasks?: readonly number[] } = { actor: 'startup' },
): Promise<AssignmentRow[]> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    // After an outage, the runs this process still has in hand are not lost.
    let lostRuns = trx
      .updateTable('assignments')
      .set({ status: 'failed', outcome: 'interrupted', error: 'the bot stopped while the run was in progress', finished_at: at })
      .where('status', '=', 'in_progress');
    if (options.runningTasks && options.runningTasks.length > 0) lostRuns = lostRuns.where('task_id', 'not in', [...options.runningTasks]);
    const lost = await lostRuns.returningAll().execute();
    for (const run of lost) {
      // A lost round is re-queued as the same round, with the same feedback.
      const round = { round_kind: run.round_kind, round_of: run.round_of, round: run.round, round_input: run.round_input };
      await trx.insertInto('assignments').values({ ...newAssignment(run.task_id, run.agent_name, run.reasons), ...round, assigned_at: at }).execute();
      await moveTask(trx, run.task_id, ['in_progress'], { status: 'assigned' }, at);
      await log(trx, { event: 'run.requeued', actor: options.actor, taskId: run.task_id, agentName: run.agent_name, data: { run: run.id } }, at);
    }
    return lost;
  });
}

/** Assignments ready to run, most urgent task first. */
export async function dueRuns(db: Db, limit: number): Promise<AssignmentRow[]> {
  if (limit <= 0) return [];
  return db
    .selectFrom('assignments')
    .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
    .selectAll('assignments')
    .where('assignments.status', '=', 'assigned')
    .where('tasks.status', '=', 'assigned')
    .orderBy('tasks.priority')
    .orderBy('assignments.id')
    .limit(limit)
    .execute();
}

/** Tasks whose merge request is still to be opened or updated, with the run that produced them. */
export async function publishingTasks(db: Db): Promise<{ task: TaskRow; run: AssignmentRow }[]> {
  const tasks = await db.selectFrom('tasks').selectAll().where('status', '=', 'publishing').orderBy('id').execute();
  const out: { task: TaskRow; run: AssignmentRow }[] = [];
  for (const task of tasks) {
    const run = await db
      .selectFrom('assignments')
      .selectAll()
      .where('task_id', '=', task.id)
      .where('status', '=', 'completed')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (run) out.push({ task, run });
  }
  return out;
}

/** Tasks `agent` holds but has not started. */
export async function unstartedTasksOf(db: Db, agent: string): Promise<TaskRow[]> {
  return db.selectFrom('tasks').selectAll().where('assigned_agent', '=', agent).where('status', '=', 'assigned').orderBy('id').execute();
}

/** The agents whose runs of this task failed (an escalation does not give it back to them). */
export async function failedAgentsOf(db: Db, taskId: number): Promise<string[]> {
  const rows = await db.selectFrom('assignments').select('agent_name').where('task_id', '=', taskId).where('status', '=', 'failed').execute();
  return rows.map((r) => r.agent_name);
}

/** The router's reasons for the task's latest assignment. */
export async function lastAssignment(db: Db, taskId: number): Promise<AssignmentRow | undefined> {
  return db.selectFrom('assignments').selectAll().where('task_id', '=', taskId).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** What `startRound` found and did. */
export interface RoundStart {
  decision: RoundDecision;
  task: TaskRow | null;
  /** The new round's run, when it started. */
  run: AssignmentRow | null;
}

/**
 * completed → assigned, to the agent of the attempt that published the merge request: a round
 * (a revision or a CI fix) of that attempt, on its branch. What may start one is decided by
 * `decideRound` over what the store holds now (the task's state, the rounds so far, whether
 * this trigger already started one), inside the transaction, so two deliveries racing for the
 * same merge request start one round.
 */
export async function startRound(
  db: Db,
  input: { taskId: number; kind: RoundKind; triggerKey: string; feedback: RoundInput; maxRounds: number; actor: string },
): Promise<RoundStart> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const { decision, task, attempt } = await roundState(trx, input);
    if (!task) return { decision, task: null, run: null };
    if (decision.kind !== 'start' || !attempt) return { decision, task, run: null };
    const moved = await moveTask(trx, task.id, ['completed'], { status: 'assigned', assigned_agent: attempt.agent_name, pending_reason: null, completed_at: null }, at);
    if (!moved) return { decision: { kind: 'busy', why: 'the task moved meanwhile' }, task, run: null };
    const reasons = JSON.stringify([`${input.kind === 'revision' ? 'revision' : 'CI fix'} round ${decision.round} of the attempt that published !${task.pr_number}`]);
    const run = await trx
      .insertInto('assignments')
      .values({
        ...newAssignment(task.id, attempt.agent_name, reasons),
        assigned_at: at,
        branch: task.branch,
        round_kind: input.kind,
        round_of: attempt.id,
        round: decision.round,
        round_input: JSON.stringify(input.feedback),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.insertInto('round_triggers').values({ task_id: task.id, trigger_key: input.triggerKey, kind: input.kind, assignment_id: run.id, created_at: at }).execute();
    await log(
      trx,
      {
        event: 'round.started',
        actor: input.actor,
        taskId: task.id,
        agentName: attempt.agent_name,
        data: { kind: input.kind, round: decision.round, of: attempt.id, run: run.id, trigger: input.triggerKey, requested_by: input.feedback.requestedBy },
      },
      at,
    );
    return { decision, task: moved, run };
  });
}

/**
 * What `startRound` would decide now, reading only: to spare the forge a call (a job log) for
 * a round that would not start. `startRound` decides again, in its transaction.
 */
export async function peekRound(db: Db, input: { taskId: number; kind: RoundKind; triggerKey: string; maxRounds: number }): Promise<RoundDecision> {
  return (await roundState(db, input)).decision;
}

async function roundState(
  q: Db | Trx,
  input: { taskId: number; kind: RoundKind; triggerKey: string; maxRounds: number },
): Promise<{ decision: RoundDecision; task: TaskRow | undefined; attempt: AssignmentRow | undefined }> {
  const task = await q.selectFrom('tasks').selectAll().where('id', '=', input.taskId).executeTakeFirst();
  if (!task) return { decision: { kind: 'refuse', why: 'the task does not exist' }, task, attempt: undefined };
  const attempt = task.pr_number === null ? undefined : await publishedAttempt(q, task.id, task.pr_number);
  const [trigger, rounds, agent] = await Promise.all([
    q.selectFrom('round_triggers').select('task_id').where('task_id', '=', task.id).where('trigger_key', '=', input.triggerKey).executeTakeFirst(),
    attempt ? roundsIn(q, attempt.id, input.kind) : Promise.resolve(0),
    attempt ? q.selectFrom('agents').select('tier').where('name', '=', attempt.agent_name).executeTakeFirst() : Promise.resolve(undefined),
  ]);
  const decision = decideRound({
    kind: input.kind,
    taskStatus: task.status,
    agentTier: agent?.tier ?? 'suspended',
    rounds,
    maxRounds: input.maxRounds,
    duplicate: trigger !== undefined,
    hasMergeRequest: attempt !== undefined && task.branch !== null,
  });
  return { decision, task, attempt };
}

/**
 * in_progress → completed, the merge request as it was: a round that failed, changed nothing
 * or was stopped leaves the published attempt standing. It does not count as a failed task
 * (the task was completed before it), and nothing is pushed over what the MR holds.
 */
export async function failRound(
  db: Db,
  run: Pick<AssignmentRow, 'id' | 'task_id' | 'agent_name'>,
  input: { usage: RunUsage; spent: TaskSpend; error: string; data?: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
    const task = await moveTask(trx, run.task_id, ['in_progress'], { ...input.spent, status: 'completed', completed_at: at, kept_sha: null, kept_outcome: null }, at);
    if (!task) return null;
    await endRun(trx, run, { usage: input.usage, spent: input.spent, countAgainstAgent: false }, at);
    await log(trx, { event: 'round.failed', actor: 'executor', taskId: task.id, agentName: run.agent_name, data: { run: run.id, reason: input.error, outcome: input.usage.outcome, error: input.usage.error, ...input.data } }, at);
    return task;
  });
}


/** Rounds of `kind` the attempt had, started or queued ones included (a cancelled one is not a round). */
async function roundsIn(q: Db | Trx, attemptId: number, kind: RoundKind): Promise<number> {
  const row = await q
    .selectFrom('assignments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('round_of', '=', attemptId)
    .where('round_kind', '=', kind)
    .where('status', '!=', 'cancelled')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
