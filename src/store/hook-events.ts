/** The seed's hook events, recorded per run and read by `doom logs --task`. */
import type { Kysely } from 'kysely';
import type { Database, HookEventRow, HookEventType } from './schema.js';
import { nowIso } from './time.js';

export interface NewHookEvent {
  type: HookEventType;
  taskId: number | null;
  runId: number | null;
  agentName: string;
  payload: Record<string, unknown>;
  at?: string;
  /** The hook did not do its job: counted in `doom_hooks_failed_total`. */
  failed?: boolean;
}

/** Records hook events in one transaction: a run's tool uses land together or not at all. */
export async function recordHookEvents(db: Kysely<Database>, events: NewHookEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const e of events) {
      await trx
        .insertInto('hook_events')
        .values({
          type: e.type,
          task_id: e.taskId,
          run_id: e.runId,
          agent_name: e.agentName,
          payload: JSON.stringify(e.payload),
          at: e.at ?? nowIso(),
          failed: e.failed ? 1 : 0,
        })
        .execute();
    }
  });
}

/** Hook events after `afterId`, oldest first (what a tail follows); the last `limit` when `afterId` is absent. */
export async function hookEventsOf(
  db: Kysely<Database>,
  filter: { taskId?: number; agent?: string; afterId?: number; limit?: number },
): Promise<HookEventRow[]> {
  let q = db.selectFrom('hook_events').selectAll();
  if (filter.taskId !== undefined) q = q.where('task_id', '=', filter.taskId);
  if (filter.agent !== undefined) q = q.where('agent_name', '=', filter.agent);
  const limit = filter.limit ?? 100;
  if (filter.afterId !== undefined) return q.where('id', '>', filter.afterId).orderBy('id', 'asc').limit(limit).execute();
  const rows = await q.orderBy('id', 'desc').limit(limit).execute();
  return rows.reverse();
}

/** Failed hook events by type, for `doom_hooks_failed_total{hook}`. */
export async function failedHookCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('hook_events')
    .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
    .where('failed', '=', 1)
    .groupBy('type')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
}
