/**
 * Writes verified deliveries to the inbox with group commit: deliveries that arrive while
 * a write is under way wait for the next one and share its transaction (and its fsync).
 * Each caller is answered only after its own delivery is on disk.
 */
import type { Kysely } from 'kysely';
import { deliveryKey, insertDeliveries, type IncomingDelivery } from '../store/deliveries.js';
import type { Database } from '../store/schema.js';

interface Waiter {
  delivery: IncomingDelivery;
  resolve: (stored: boolean) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 500;

export class InboxWriter {
  private queue: Waiter[] = [];
  private writing = false;
  private readonly listeners = new Set<() => void>();
  private lastPut = 0;

  constructor(private readonly db: Kysely<Database>) {}

  /** Resolves true when the delivery was stored now, false when it was already stored. */
  put(delivery: IncomingDelivery): Promise<boolean> {
    this.lastPut = performance.now();
    return new Promise((resolve, reject) => {
      this.queue.push({ delivery, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  /** Whether a delivery arrived within the last `withinMs`. */
  busy(withinMs = 10): boolean {
    return performance.now() - this.lastPut < withinMs;
  }

  /** Called after each write that stored something new (the processor wakes up). */
  onStored(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async flush(): Promise<void> {
    this.writing = true;
    // Let the requests already parsed in this turn of the event loop join the batch.
    await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const unique = new Map<string, IncomingDelivery>();
      for (const w of batch) unique.set(deliveryKey(w.delivery.forge, w.delivery.deliveryId), w.delivery);
      try {
        const stored = await insertDeliveries(this.db, [...unique.values()]);
        for (const w of batch) {
          const key = deliveryKey(w.delivery.forge, w.delivery.deliveryId);
          // Within one batch only the first holder of a key counts as new.
          w.resolve(stored.delete(key));
        }
        for (const listener of this.listeners) listener();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.writing = false;
  }
}
