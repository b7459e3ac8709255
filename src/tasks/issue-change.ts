/**
 * What an issue event does to the issue's task, decided over plain data: the stored task,
 * the event, the issue as the forge shows it now, the intake of that issue, and the config.
 * The service applies the answer (`TaskService.applyIssueChange`).
 *
 * The forge's state wins over the payload's: whether the issue wants a task (open, with the
 * trigger label) is read from `current`, never from the event, so a `labeled` delivered
 * after `unlabeled` or `closed` cannot resurrect a task, and an `unlabeled` delivered after
 * the label came back cannot cancel it. The event still says what kind of change it was (a
 * relabel asks for another attempt; an edit does not). `current` is null when the forge no
 * longer has the issue.
 *
 * Who sent the event is a second, separate step: `gateIssueChange` turns a change that
 * starts or alters a task into `refuse` unless the sender may trigger the bot. Cancelling
 * is never gated: stopping work is always safe, and a closed issue is closed.
 *
 * ```ts
 * const current = await forge.getIssue(repo, event.issue.number);
 * const issue = current ? { ...event.issue, ...current } : event.issue;
 * let change = decideIssueChange(existing, event, current, taskSpecFromIssue(issue, config), config);
 * if (needsPermittedSender(change)) change = gateIssueChange(change, await guard.decide(...));
 * ```
 */
import type { Config } from '../config/schema.js';
import type { IssueEvent } from '../forges/event.js';
import type { IssueState } from '../forges/forge.js';
import type { TriggerDecision } from '../permissions/roles.js';
import type { TaskRow } from '../store/schema.js';
import type { IntakeResult, TaskSpec } from './intake.js';

export type SpecFields = ReturnType<typeof specFields>;

/** What a task row holds of a spec. */
export function specFields(spec: TaskSpec) {
  return {
    title: spec.title,
    description: spec.description,
    type: spec.type,
    priority: spec.priority,
    tags: JSON.stringify(spec.tags),
    max_tokens: spec.maxTokens,
    max_usd: spec.maxUsd,
    timeout_ms: spec.timeoutMs,
    forced_agent: spec.forcedAgent,
  };
}

/** The changes that start a task or alter what it will do: only a permitted sender's count. */
export type GatedKind = 'create' | 'reject' | 'requeue' | 'update';
export type RefusedTrigger = Extract<TriggerDecision, { allowed: false }>;

export type IssueChange =
  /** Nothing to change. `task`, when set, is shown and routed as it is (a redelivery finishes the job). */
  | { kind: 'ignore'; task: TaskRow | null; why: string }
  /** Stop the task: release it if it has not started, else ask its run to stop. */
  | { kind: 'cancel'; task: TaskRow; reason: string; running: boolean }
  | { kind: 'create'; spec: TaskSpec }
  /** The issue does not describe a valid task: a new failed row, or the existing one failed. */
  | { kind: 'reject'; task: TaskRow | null; error: string }
  /** Another attempt at a finished or failed task, with the issue as it is now. */
  | { kind: 'requeue'; task: TaskRow; fields: SpecFields }
  /** A task that has not started takes the new spec; `reroute` when routing inputs changed. */
  | { kind: 'update'; task: TaskRow; fields: SpecFields; reroute: boolean }
  /** A gated change from someone who may not trigger the bot: nothing changes. */
  | { kind: 'refuse'; task: TaskRow | null; would: GatedKind; refusal: RefusedTrigger };

const ROUTING_FIELDS = ['type', 'priority', 'forced_agent'] as const;

export function decideIssueChange(
  existing: TaskRow | null,
  event: IssueEvent,
  current: Pick<IssueState, 'state' | 'labels'> | null,
  intake: IntakeResult,
  config: Pick<Config, 'labels'>,
): IssueChange {
  const trigger = config.labels.trigger;
  const wanted = current !== null && current.state === 'open' && current.labels.includes(trigger);
  if (!wanted) {
    const why = current === null ? 'the issue was deleted' : current.state === 'closed' ? 'the issue was closed' : `the "${trigger}" label was removed`;
    return unwanted(existing, why);
  }
  // Only label changes, openings and edits make or change a task.
  if (event.action === 'closed') return { kind: 'ignore', task: existing, why: 'closed' };

  if (!existing) return intake.ok ? { kind: 'create', spec: intake.spec } : { kind: 'reject', task: null, error: intake.error };
  const task = existing;
  if (!intake.ok) {
    const rejectable = (task.status === 'pending' || task.status === 'failed') && task.error_message !== intake.error;
    return rejectable ? { kind: 'reject', task, error: intake.error } : { kind: 'ignore', task, why: 'already rejected or under way' };
  }

  const fields = specFields(intake.spec);
  // Adding the trigger label again asks for another attempt, even at a finished task; so does
  // reopening a failed task (closing it cancelled it). An edit alone never retries: a failed
  // run is not started again by whoever touches the issue next.
  const relabeled = event.action === 'labeled' && event.label === trigger;
  if ((relabeled || event.action === 'reopened') && isCopyOfTrigger(event, task)) {
    return { kind: 'ignore', task, why: 'a copy of the change that started this attempt' };
  }
  const retry = (task.status === 'completed' && relabeled) || (task.status === 'failed' && (relabeled || event.action === 'reopened'));
  if (retry) return { kind: 'requeue', task, fields };

  const changed = (Object.keys(fields) as (keyof SpecFields)[]).some((k) => fields[k] !== task[k]);
  if (changed && (task.status === 'pending' || task.status === 'assigned')) {
    // Only what the router decides on sends an assigned task back to it; a new description
    // or budget is simply what the agent will get.
    const reroute = task.status === 'assigned' && ROUTING_FIELDS.some((k) => fields[k] !== task[k]);
    return { kind: 'update', task, fields, reroute };
  }
  return { kind: 'ignore', task, why: changed ? `the task is ${task.status}` : 'nothing changed' };
}

/**
 * A change no later than the one that started the task's current attempt is a redelivery of
 * it (or of something older), not a new request. Without both times, it counts as new.
 */
function isCopyOfTrigger(event: IssueEvent, task: TaskRow): boolean {
  return event.changedAt !== undefined && task.trigger_changed_at !== null && event.changedAt <= task.trigger_changed_at;
}

function unwanted(existing: TaskRow | null, why: string): IssueChange {
  if (existing && (existing.status === 'pending' || existing.status === 'assigned')) {
    return { kind: 'cancel', task: existing, reason: `cancelled: ${why}`, running: false };
  }
  if (existing?.status === 'in_progress') return { kind: 'cancel', task: existing, reason: why, running: true };
  // The task stays as it is, and is shown as it is: a redelivery after a failed comment update
  // (a cancel stored, its comment not) brings the issue in line.
  return { kind: 'ignore', task: existing, why };
}

export function needsPermittedSender(change: IssueChange): change is Extract<IssueChange, { kind: GatedKind }> {
  return change.kind === 'create' || change.kind === 'reject' || change.kind === 'requeue' || change.kind === 'update';
}

/** A gated change stands when the sender may trigger the bot; else it becomes `refuse`. */
export function gateIssueChange(change: IssueChange, sender: TriggerDecision): IssueChange {
  if (!needsPermittedSender(change) || sender.allowed) return change;
  return { kind: 'refuse', task: change.kind === 'create' ? null : change.task, would: change.kind, refusal: sender };
}
