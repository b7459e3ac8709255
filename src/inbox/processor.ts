/**
 * Works through the inbox in the background: at least once per delivery, oldest first,
 * retrying failures with exponential backoff and keeping the error of the last try.
 * Handlers must be idempotent: a delivery interrupted by a crash is handled again.
 *
 * While the store is unreachable the processor pauses: no pass runs, so no error loop. When
 * it is back, the deliveries that were in hand when the connection went are put back in the
 * queue (as at start-up) before the next pass: nothing acknowledged is lost.
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { StoreAvailability } from '../store/health.js';
import { claimDue, markDone, markFailed, requeueInterrupted } from '../store/deliveries.js';
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
  /**
   * True while webhooks are arriving. The processor then waits its turn (briefly, and never
   * for long), so a burst of deliveries is answered first and handled right after: the
   * forges time out slow webhook endpoints, nothing times out the inbox.
   */
  ingressBusy?: () => boolean;
  /** Whether the store can be reached; absent, it is taken to be. */
  health?: Pick<StoreAvailability, 'current' | 'onChange'>;
}

/** How long the processor yields to a busy ingress before it takes a batch anyway. */
const YIELD_MS = 10;
const MAX_YIELDS = 10;

/** `paused`: the store is unreachable. `recovering`: it is back, and the queue is being repaired. */
type Mode = 'active' | 'paused' | 'recovering';

export class InboxProcessor {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private mode: Mode = 'active';
  private pass: Promise<void> | null = null;
  private again = false;
  private yields = 0;
  /** Bumped on every return of the store: only the latest recovery may resume polling. */
  private outages = 0;
  private recovery: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly options: ProcessorOptions) {}

  /** Requeues what a previous process left half-done, then polls. */
  async start(): Promise<void> {
    const requeued = await requeueInterrupted(this.options.db);
    if (requeued > 0) this.options.log.warn({ requeued }, 'requeued deliveries interrupted by a previous stop');
    this.running = true;
    this.unsubscribe =
      this.options.health?.onChange((state) => (state.reachable ? this.resume() : this.pause(state.reason))) ?? null;
    const state = this.options.health?.current();
    if (state && !state.reachable) this.pause(state.reason);
    else this.schedule(0);
  }

  /** Stops polling and waits for the deliveries in hand. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
    await this.recovery;
  }

  /** Wakes the processor now (a delivery was just stored). */
  kick(): void {
    if (!this.running || this.mode !== 'active') return;
    if (this.pass) this.again = true;
    else this.schedule(0);
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
   * Puts back what the outage left claimed but unfinished. The pass under way ends first, so
   * nothing still in hand is requeued; one replica only, as at start-up.
   */
  private async recover(outage: number): Promise<void> {
    await this.pass;
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
    this.schedule(0);
  }

  /** Processes everything due now, until nothing is left; for tests and the CLI. */
  async drain(): Promise<void> {
    while ((await this.runPass()) > 0);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.mode !== 'active') return;
      this.pass = this.runPass()
        .catch((error: unknown) => {
          if (this.storeReachable()) this.options.log.error({ err: error }, 'inbox pass failed');
        })
        .then((n) => {
          this.pass = null;
          if (!this.running || this.mode !== 'active') return;
          const more = this.again || (typeof n === 'number' && n > 0);
          this.again = false;
          this.schedule(more ? 0 : this.options.pollIntervalMs);
        });
    }, ms);
  }

  private async runPass(): Promise<number> {
    if (this.running && this.options.ingressBusy?.() && this.yields < MAX_YIELDS) {
      this.yields++;
      await new Promise((r) => setTimeout(r, YIELD_MS));
      return 1; // come back at once: there is work
    }
    this.yields = 0;
    const claimed = await claimDue(this.options.db, this.options.concurrency);
    await Promise.all(claimed.map((d) => this.process(d)));
    return claimed.length;
  }

  private async process(delivery: Delivery): Promise<void> {
    const { db, log, maxAttempts, retryBaseMs } = this.options;
    try {
      await this.options.handle(delivery);
      await markDone(db, delivery.id);
    } catch (error) {
      if (!this.storeReachable()) {
        // Not the delivery's fault, and nothing can be written now: it stays claimed, and is
        // requeued when the store is back.
        log.warn({ deliveryId: delivery.delivery_id, forge: delivery.forge }, 'delivery interrupted: the store is unreachable');
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const permanent = this.options.isPermanent?.(error) ?? false;
      const last = permanent || delivery.attempts >= maxAttempts;
      const delay = retryBaseMs * 2 ** (delivery.attempts - 1);
      await markFailed(db, delivery.id, message, last ? null : delay);
      const context = { deliveryId: delivery.delivery_id, forge: delivery.forge, event: delivery.event, attempt: delivery.attempts };
      if (last) log.error({ ...context, err: error }, 'delivery failed for good');
      else log.warn({ ...context, err: error, retryInMs: delay }, 'delivery failed, will retry');
    }
  }
}
