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
import type { AssignmentRow, Database, TaskRow, TaskStatus, TaskUpdate } from './schema.js';
import { newAssignment } from './assignments.js';
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
 * spec in the same step.
 */
export async function release(
  db: Db,
  taskId: number,
  input: { reason: string; actor: string; event?: string; fields?: TaskUpdate; data?: Record<string, unknown> },
): Promise<TaskRow | null> {
  return db.transaction().execute(async (trx) => {
    const at = nowIso();
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
  input: { usage: RunUsage; spent: TaskSpend; headSha: string | null; summary: string | null; changedFiles: readonly string[]; guards?: readonly GuardFinding[] },
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
    await bump(trx, run.agent_name, 'completed_tasks', at);
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
      await trx.insertInto('assignments').values({ ...newAssignment(run.task_id, run.agent_name, run.reasons), assigned_at: at }).execute();
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
