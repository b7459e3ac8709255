/** Agents as the store knows them: configuration from the files, performance from rewards. */
import type { Kysely } from 'kysely';
import type { AgentFile } from '../agents/schema.js';
import type { AgentRow, Database } from './schema.js';
import { nowIso } from './time.js';

/**
 * Brings the agents table in line with the agent files. A new agent starts at its file's
 * tier; an existing one keeps the tier its rewards earned. Agents whose file is gone are
 * kept (their history matters) but marked inactive, so the router skips them.
 */
export async function syncAgents(db: Kysely<Database>, agents: AgentFile[]): Promise<{ added: string[] }> {
  const now = nowIso();
  const added: string[] = [];
  await db.transaction().execute(async (trx) => {
    const existing = new Set((await trx.selectFrom('agents').select('name').execute()).map((r) => r.name));
    for (const agent of agents) {
      const fields = {
        specializations: JSON.stringify(agent.specializations),
        max_concurrent_tasks: agent.max_concurrent_tasks,
        config: JSON.stringify(agent),
        active: 1,
        updated_at: now,
      };
      if (existing.has(agent.name)) {
        await trx.updateTable('agents').set(fields).where('name', '=', agent.name).execute();
        continue;
      }
      added.push(agent.name);
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
    const names = agents.map((a) => a.name);
    let stale = trx.updateTable('agents').set({ active: 0, updated_at: now }).where('active', '=', 1);
    if (names.length > 0) stale = stale.where('name', 'not in', names);
    await stale.execute();
  });
  return { added };
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
