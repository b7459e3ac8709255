/** The webhook inbox: every verified delivery, stored before it is answered. */
import { sql, type Kysely } from 'kysely';
import type { Database, Delivery } from './schema.js';
import { isoAfter, nowIso } from './time.js';

export interface IncomingDelivery {
  forge: string;
  deliveryId: string;
  event: string;
  body: string;
}

/**
 * Inserts deliveries in one statement; a (forge, delivery id) already stored is skipped.
 * Returns the keys that were new.
 */
export async function insertDeliveries(db: Kysely<Database>, items: IncomingDelivery[]): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const now = nowIso();
  const rows = await db
    .insertInto('webhook_deliveries')
    .values(
      items.map((d) => ({
        forge: d.forge,
        delivery_id: d.deliveryId,
        event: d.event,
        body: d.body,
        received_at: now,
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        processed_at: null,
      })),
    )
    .onConflict((oc) => oc.columns(['forge', 'delivery_id']).doNothing())
    .returning(['forge', 'delivery_id'])
    .execute();
  return new Set(rows.map((r) => deliveryKey(r.forge, r.delivery_id)));
}

export const deliveryKey = (forge: string, deliveryId: string): string => `${forge}\u0000${deliveryId}`;

/** Puts deliveries a crashed process was handling back in the queue (at-least-once). */
export async function requeueInterrupted(db: Kysely<Database>): Promise<number> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending' })
    .where('status', '=', 'processing')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Claims up to `limit` due deliveries, oldest first; each is claimed by one caller only. */
export async function claimDue(db: Kysely<Database>, limit: number): Promise<Delivery[]> {
  // One transaction: one commit (one fsync on SQLite) for the whole claim, not one per row.
  return db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', nowIso())
      .orderBy('id')
      .limit(limit)
      .execute();
    const claimed: Delivery[] = [];
    for (const { id } of due) {
      const row = await trx
        .updateTable('webhook_deliveries')
        .set({ status: 'processing', attempts: sql`attempts + 1` })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .returningAll()
        .executeTakeFirst();
      if (row) claimed.push(row);
    }
    return claimed;
  });
}

export async function markDone(db: Kysely<Database>, id: number): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'done', processed_at: nowIso(), last_error: null })
    .where('id', '=', id)
    .execute();
}

/** Schedules another try after `delayMs`, or marks the delivery failed for good. */
export async function markFailed(
  db: Kysely<Database>,
  id: number,
  error: string,
  retryInMs: number | null,
): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set(
      retryInMs === null
        ? { status: 'failed', last_error: error, processed_at: nowIso() }
        : { status: 'pending', last_error: error, next_attempt_at: isoAfter(retryInMs) },
    )
    .where('id', '=', id)
    .execute();
}

/**
 * Puts a claimed delivery back for `delayMs` without counting the try: the forge asked us to
 * come back later (a rate limit), which says nothing about the delivery itself. Undoes the
 * claim's `attempts + 1`, so `max_attempts` counts only real failures.
 */
export async function postpone(db: Kysely<Database>, id: number, delayMs: number, reason: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: sql`attempts - 1`, last_error: reason, next_attempt_at: isoAfter(delayMs) })
    .where('id', '=', id)
    .where('status', '=', 'processing')
    .execute();
}

export async function deliveryCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Removes processed deliveries older than the retention period. */
export async function pruneDeliveries(db: Kysely<Database>, olderThanDays: number): Promise<number> {
  const cutoff = isoAfter(-olderThanDays * 86_400_000);
  const result = await db
    .deleteFrom('webhook_deliveries')
    .where('status', '=', 'done')
    .where('received_at', '<', cutoff)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
