/** Agents as the store knows them: configuration from the files, performance from rewards. */
import type { Kysely, Transaction } from 'kysely';
import type { AgentFile } from '../agents/schema.js';
import type { AgentRow, Database } from './schema.js';
import { nowIso } from './time.js';

/** What `syncAgents` changed, by agent name. */
export interface AgentSync {
  added: string[];
  /** Agents whose file changed (specializations, concurrency, prompt, runner …). */
  updated: string[];
  /** Agents whose file came back after they were deactivated. */
  reactivated: string[];
  /** Agents whose file is gone. */
  deactivated: string[];
}

/**
 * Brings the agents table in line with the agent files, writing only what differs. A new agent
 * starts at its file's tier; an existing one keeps the tier its rewards earned. Agents whose
 * file is gone are kept (their history matters) but marked inactive, so the router skips them.
 */
export async function syncAgents(db: Kysely<Database>, agents: AgentFile[]): Promise<AgentSync> {
  const now = nowIso();
  const sync: AgentSync = { added: [], updated: [], reactivated: [], deactivated: [] };
  await db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('agents').select(['name', 'config', 'active']).execute();
    const existing = new Map(rows.map((r) => [r.name, r]));
    for (const agent of agents) {
      const fields = {
        specializations: JSON.stringify(agent.specializations),
        max_concurrent_tasks: agent.max_concurrent_tasks,
        config: JSON.stringify(agent),
        active: 1,
        updated_at: now,
      };
      const row = existing.get(agent.name);
      if (row) {
        if (row.active === 1 && row.config === fields.config) continue;
        (row.active === 1 ? sync.updated : sync.reactivated).push(agent.name);
        await trx.updateTable('agents').set(fields).where('name', '=', agent.name).execute();
        continue;
      }
      sync.added.push(agent.name);
      await insertAgent(trx, agent, fields, now);
    }
    const names = new Set(agents.map((a) => a.name));
    sync.deactivated = rows.filter((r) => r.active === 1 && !names.has(r.name)).map((r) => r.name);
    if (sync.deactivated.length > 0) {
      await trx.updateTable('agents').set({ active: 0, updated_at: now }).where('name', 'in', sync.deactivated).execute();
    }
  });
  return sync;
}

async function insertAgent(
  trx: Transaction<Database>,
  agent: AgentFile,
  fields: Pick<AgentRow, 'specializations' | 'max_concurrent_tasks' | 'config' | 'active' | 'updated_at'>,
  now: string,
): Promise<void> {
  await trx
    .insertInto('agents')
    .values({
      name: agent.name,
      tier: agent.tier,
      ...fields,
      rolling_avg: 0,
      total_tasks: 0,
      completed_tasks: 0,
      failed_tasks: 0,
      manual_override: null,
      created_at: now,
    })
    .execute();
  await trx
    .insertInto('tier_history')
    .values({
      agent_name: agent.name,
      from_tier: agent.tier,
      to_tier: agent.tier,
      reason: 'initial tier from the agent file',
      source: 'config',
      rolling_avg: null,
      created_at: now,
    })
    .execute();
}

export async function listAgents(db: Kysely<Database>, options: { tier?: string; includeInactive?: boolean } = {}): Promise<AgentRow[]> {
  let q = db.selectFrom('agents').selectAll();
  if (!options.includeInactive) q = q.where('active', '=', 1);
  if (options.tier) q = q.where('tier', '=', options.tier);
  return q.orderBy('name').execute();
}

export async function getAgent(db: Kysely<Database>, name: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
}

/** How many tasks each agent holds right now (assigned or running). */
export async function activeLoad(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('assignments')
    .select(['agent_name', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ['assigned', 'in_progress'])
    .groupBy('agent_name')
    .execute();
  return new Map(rows.map((r) => [r.agent_name, Number(r.n)]));
}
