/**
 * Domain events: what happened to a task, a run or an agent, declared once here, with their
 * consequences registered in one place (`wireConsequences` in app.ts). The code that makes
 * a change emits what it did; it does not know, or call, what follows from it. So a tier
 * change has one path to "release the agent's unstarted tasks and re-route", whether a
 * reward, a manual reward, an operator or the nightly job caused it.
 *
 * ```ts
 * const events = new DomainEvents(log);
 * events.on('tier.changed', (e) => tasks.onTierChanged(e));
 * await events.emit({ kind: 'tier.changed', agent: 'a', from: 'senior', to: 'suspended', source: 'rewards', actor: 'evaluator' });
 * ```
 *
 * Handlers run one after another, in the order registered, and are awaited: when `emit`
 * returns, the consequences have happened. A failing handler is logged and the others still
 * run; the state it reacts to is already stored, and the periodic passes (the dispatcher's
 * poll, the nightly recompute, the issue reconcile) repair what a failed consequence missed.
 */
import type { AssignableTier, Tier } from './config/schema.js';
import type { Logger } from './log.js';

export type DomainEvent =
  /** A task got an agent: the executor may start it. */
  | { kind: 'task.assigned'; taskId: number; agent: string }
  /**
   * Someone asked a running task to stop (the issue was closed or unlabeled, `/doom cancel`).
   * With `escalateTo` (`/doom escalate`), the stopped task goes back to the router at that
   * tier or above instead of failing.
   */
  | { kind: 'run.cancel_requested'; taskId: number; reason: string; actor: string; escalateTo?: AssignableTier }
  /** A run ended, whatever the outcome: its agent has room again. */
  | { kind: 'run.finished'; taskId: number; agent: string; outcome: string }
  /** An agent's tier moved. */
  | { kind: 'tier.changed'; agent: string; from: Tier; to: Tier; source: string; actor: string };

export type EventKind = DomainEvent['kind'];
export type EventOf<K extends EventKind> = Extract<DomainEvent, { kind: K }>;
export type Handler<K extends EventKind> = (event: EventOf<K>) => Promise<void> | void;

/** What emitting code needs: nothing but `emit`. */
export interface EventSink {
  emit(event: DomainEvent): Promise<void>;
}

export class DomainEvents implements EventSink {
  private readonly handlers: { [K in EventKind]: Handler<K>[] } = {
    'task.assigned': [],
    'run.cancel_requested': [],
    'run.finished': [],
    'tier.changed': [],
  };

  constructor(private readonly log: Pick<Logger, 'error'>) {}

  on<K extends EventKind>(kind: K, handler: Handler<K>): this {
    (this.handlers[kind] as Handler<K>[]).push(handler);
    return this;
  }

  async emit(event: DomainEvent): Promise<void> {
    for (const handler of this.handlers[event.kind] as Handler<EventKind>[]) {
      try {
        await handler(event as never);
      } catch (error) {
        this.log.error({ err: error, event }, `a consequence of ${event.kind} failed`);
      }
    }
  }
}

/** An event sink with no consequences (tools and tests that want none). */
export const noEvents: EventSink = { emit: async () => undefined };
