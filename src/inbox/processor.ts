/**
 * Works through the inbox in the background: at least once per delivery, oldest first,
 * retrying failures with exponential backoff and keeping the error of the last try.
 * Handlers must be idempotent: a delivery interrupted by a crash is handled again.
 *
 * Deliveries run in a pool of `concurrency` slots that free one by one: when a delivery
 * finishes, the next due one is claimed at once, so one slow forge call holds up only its own
 * delivery. A delivery the forge rate-limited goes back on the schedule for when the forge
 * said, without counting as a failed try.
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
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
}

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

  constructor(private readonly options: ProcessorOptions) {}

  /** Requeues what a previous process left half-done, then starts filling slots. */
  async start(): Promise<void> {
    const requeued = await requeueInterrupted(this.options.db);
    if (requeued > 0) this.options.log.warn({ requeued }, 'requeued deliveries interrupted by a previous stop');
    this.running = true;
    this.wake();
  }

  /** Stops claiming and waits for the deliveries in hand. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.filling;
    await Promise.all(this.inFlight);
  }

  /** Wakes the processor now (a delivery was just stored). */
  kick(): void {
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
    if (!this.running) return;
    if (this.filling) {
      this.refill = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.filling = this.fill()
      .catch((error: unknown) => {
        this.options.log.error({ err: error }, 'inbox claim failed');
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
    if (!this.running) return;
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
