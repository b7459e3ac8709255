/**
 * Works through the inbox in the background: at least once per delivery, oldest first,
 * retrying failures with exponential backoff and keeping the error of the last try.
 * Handlers must be idempotent: a delivery interrupted by a crash is handled again.
 *
 * Deliveries run in a pool of `concurrency` slots that free one by one: when a delivery
 * finishes, the next due one is claimed at once, so one slow forge call holds up only its own
 * delivery. A delivery the forge rate-limited goes back on the schedule for when the forge
 * said, without counting as a failed try.
 *
 * While the store is unreachable the processor pauses: nothing is claimed, so no error loop.
 * When it is back, the slots in hand finish first, then the deliveries that were in hand when
 * the connection went are put back in the queue (as at start-up): nothing acknowledged is lost.
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { StoreAvailability } from '../store/health.js';
import { claimDue, markDone, markFailed, postpone, requeueInterrupted } from '../store/deliveries.js';
import type { Database, Delivery } from '../store/schema.js';

export interface ProcessorOptions {
  db: Kysely<Database>;
  log: Logger;
  handle: (delivery: Delivery) => Promise<void>;
  pollIntervalMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  concurrency: number;
  /** Errors that no retry can fix (a malformed payload): failed at once. */
  isPermanent?: (error: unknown) => boolean;
  /** How long the error asks us to wait before trying again (a rate limit), or null. */
  retryAfterMs?: (error: unknown) => number | null;
  /**
   * True while webhooks are arriving. The processor then waits its turn (briefly, and never
   * for long), so a burst of deliveries is answered first and handled right after: the
   * forges time out slow webhook endpoints, nothing times out the inbox.
   */
  ingressBusy?: () => boolean;
  /** Whether the store can be reached; absent, it is taken to be. */
  health?: Pick<StoreAvailability, 'current' | 'onChange'>;
}

/** `paused`: the store is unreachable. `recovering`: it is back, and the queue is being repaired. */
type Mode = 'active' | 'paused' | 'recovering';

/** How long the processor yields to a busy ingress before it claims anyway. */
const YIELD_MS = 10;
const MAX_YIELDS = 10;

export type AfterFailure =
  /** The forge asked to wait: back on the schedule, the try not counted. */
  | { kind: 'postpone'; delayMs: number }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'give-up' };

/** What to do with a delivery whose handler threw. Pure. */
export function decideAfterFailure(input: {
  attempts: number;
  maxAttempts: number;
  retryBaseMs: number;
  permanent: boolean;
  retryAfterMs: number | null;
}): AfterFailure {
  if (input.permanent) return { kind: 'give-up' };
  if (input.retryAfterMs !== null) return { kind: 'postpone', delayMs: Math.max(0, input.retryAfterMs) };
  if (input.attempts >= input.maxAttempts) return { kind: 'give-up' };
  return { kind: 'retry', delayMs: input.retryBaseMs * 2 ** (input.attempts - 1) };
}

export class InboxProcessor {
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  /** The claim in progress; one at a time, so two wakes cannot over-fill the pool. */
  private filling: Promise<void> | null = null;
  private refill = false;
  private yields = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private mode: Mode = 'active';
  /** Bumped on every return of the store: only the latest recovery may resume claiming. */
  private outages = 0;
  private recovery: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly options: ProcessorOptions) {}

  /** Requeues what a previous process left half-done, then starts filling slots. */
  async start(): Promise<void> {
    const requeued = await requeueInterrupted(this.options.db);
    if (requeued > 0) this.options.log.warn({ requeued }, 'requeued deliveries interrupted by a previous stop');
    this.running = true;
    this.unsubscribe =
      this.options.health?.onChange((state) => (state.reachable ? this.resume() : this.pause(state.reason))) ?? null;
    const state = this.options.health?.current();
    if (state && !state.reachable) this.pause(state.reason);
    else this.wake();
  }

  /** Stops claiming and waits for the deliveries in hand. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.filling;
    await Promise.all(this.inFlight);
    await this.recovery;
  }

  /** Wakes the processor now (a delivery was just stored). */
  kick(): void {
    this.wake();
  }

  private storeReachable(): boolean {
    return this.options.health?.current().reachable ?? true;
  }

  private pause(reason: string): void {
    if (!this.running) return;
    this.mode = 'paused';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.options.log.warn({ reason }, 'inbox paused: the store is unreachable');
  }

  private resume(): void {
    if (!this.running || this.mode === 'active') return;
    this.mode = 'recovering';
    const outage = ++this.outages;
    this.recovery = this.recovery.then(() => this.recover(outage));
  }

  /**
   * Puts back what the outage left claimed but unfinished. The slots in hand end first, so
   * nothing still being handled is requeued; one replica only, as at start-up.
   */
  private async recover(outage: number): Promise<void> {
    await this.filling;
    await Promise.all(this.inFlight);
    if (!this.running || outage !== this.outages || this.mode !== 'recovering') return;
    try {
      const requeued = await requeueInterrupted(this.options.db);
      this.options.log.info({ requeued }, 'inbox resumed: the store is back');
    } catch (error) {
      // Lost again: the store's health has paused us once more, and its next return recovers.
      if (!this.storeReachable()) return;
      // Reachable but refused: try again at the next poll rather than stay stuck.
      this.options.log.error({ err: error }, 'inbox could not requeue interrupted deliveries: retrying');
      this.timer = setTimeout(() => {
        this.timer = null;
        this.recovery = this.recovery.then(() => this.recover(outage));
      }, this.options.pollIntervalMs);
      return;
    }
    if (!this.running || outage !== this.outages || this.mode !== 'recovering') return;
    this.mode = 'active';
    this.wake();
  }

  /** Processes everything due now, until nothing is left; for tests and the CLI. */
  async drain(): Promise<void> {
    for (;;) {
      const started = await this.claimInto(this.freeSlots());
      if (this.inFlight.size === 0 && started === 0) return;
      if (this.inFlight.size > 0) await Promise.race(this.inFlight);
    }
  }

  private freeSlots(): number {
    return Math.max(0, this.options.concurrency - this.inFlight.size);
  }

  /** Fills free slots now, or right after the fill in progress. */
  private wake(): void {
    if (!this.running || this.mode !== 'active') return;
    if (this.filling) {
      this.refill = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.filling = this.fill()
      .catch((error: unknown) => {
        if (this.storeReachable()) this.options.log.error({ err: error }, 'inbox claim failed');
        return this.options.pollIntervalMs;
      })
      .then((nextLookMs) => {
        this.filling = null;
        if (this.refill) {
          this.refill = false;
          this.wake();
        } else if (nextLookMs !== null) {
          this.schedule(nextLookMs);
        }
      });
  }

  private schedule(ms: number): void {
    if (!this.running || this.mode !== 'active') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, ms);
  }

  /**
   * Claims as many due deliveries as there are free slots. Returns when to look again, or
   * null when every slot is busy (the next delivery to finish wakes the processor).
   */
  private async fill(): Promise<number | null> {
    const free = this.freeSlots();
    if (free === 0) return null;
    if (this.options.ingressBusy?.() && this.yields < MAX_YIELDS) {
      this.yields++;
      return YIELD_MS;
    }
    this.yields = 0;
    const started = await this.claimInto(free);
    return started < free ? this.options.pollIntervalMs : null;
  }

  private async claimInto(slots: number): Promise<number> {
    if (slots === 0) return 0;
    const claimed = await claimDue(this.options.db, slots);
    for (const delivery of claimed) this.occupySlot(delivery);
    return claimed.length;
  }

  /** Runs one delivery in a slot; the slot frees, and is refilled, when it is done. */
  private occupySlot(delivery: Delivery): void {
    const slot: Promise<void> = this.process(delivery)
      .catch((error: unknown) =>
        // Recording the outcome failed (the store is unreachable): the delivery stays
        // `processing` and the next start requeues it.
        this.options.log.error({ err: error, deliveryId: delivery.delivery_id }, 'could not record the outcome of a delivery'),
      )
      .finally(() => {
        this.inFlight.delete(slot);
        this.wake();
      });
    this.inFlight.add(slot);
  }

  private async process(delivery: Delivery): Promise<void> {
    try {
      await this.options.handle(delivery);
    } catch (error) {
      await this.settleFailure(delivery, error);
      return;
    }
    await markDone(this.options.db, delivery.id);
  }

  private async settleFailure(delivery: Delivery, error: unknown): Promise<void> {
    const { db, log, maxAttempts, retryBaseMs } = this.options;
    if (!this.storeReachable()) {
      // Not the delivery's fault, and nothing can be written now: it stays claimed, and is
      // requeued when the store is back.
      log.warn({ deliveryId: delivery.delivery_id, forge: delivery.forge }, 'delivery interrupted: the store is unreachable');
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const decision = decideAfterFailure({
      attempts: delivery.attempts,
      maxAttempts,
      retryBaseMs,
      permanent: this.options.isPermanent?.(error) ?? false,
      retryAfterMs: this.options.retryAfterMs?.(error) ?? null,
    });
    const context = { deliveryId: delivery.delivery_id, forge: delivery.forge, event: delivery.event, attempt: delivery.attempts };
    switch (decision.kind) {
      case 'postpone':
        await postpone(db, delivery.id, decision.delayMs, message);
        log.warn({ ...context, err: error, retryInMs: decision.delayMs }, 'delivery postponed: the forge asked us to wait');
        return;
      case 'retry':
        await markFailed(db, delivery.id, message, decision.delayMs);
        log.warn({ ...context, err: error, retryInMs: decision.delayMs }, 'delivery failed, will retry');
        return;
      case 'give-up':
        await markFailed(db, delivery.id, message, null);
        log.error({ ...context, err: error }, 'delivery failed for good');
    }
  }
}
