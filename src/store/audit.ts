import type { Kysely } from 'kysely';
import type { AuditRow, Database } from './schema.js';
import { nowIso } from './time.js';

export interface AuditEntry {
  event: string;
  actor: string;
  taskId?: number | null;
  agentName?: string | null;
  data?: Record<string, unknown>;
}

/** Appends one decision or action to the audit log. */
export async function audit(db: Kysely<Database>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: nowIso(),
      event: entry.event,
      actor: entry.actor,
      task_id: entry.taskId ?? null,
      agent_name: entry.agentName ?? null,
      data: JSON.stringify(entry.data ?? {}),
    })
    .execute();
}

/** Audit entries after `afterId`, oldest first; the last `limit` when `afterId` is absent. */
export async function auditEntries(
  db: Kysely<Database>,
  options: { afterId?: number; agent?: string; taskId?: number; limit: number },
): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (options.agent) q = q.where('agent_name', '=', options.agent);
  if (options.taskId !== undefined) q = q.where('task_id', '=', options.taskId);
  if (options.afterId !== undefined) {
    return q.where('id', '>', options.afterId).orderBy('id', 'asc').limit(options.limit).execute();
  }
  const rows = await q.orderBy('id', 'desc').limit(options.limit).execute();
  return rows.reverse();
}
