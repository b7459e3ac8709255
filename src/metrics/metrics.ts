/**
 * Prometheus metrics, read from the store at scrape time (so every replica reports the
 * same numbers and nothing is lost across restarts), named after the seed's metrics.
 */
import type { Kysely } from 'kysely';
import { Gauge, Registry } from 'prom-client';
import { successRates } from '../store/rewards.js';
import type { Database } from '../store/schema.js';

export function createMetrics(db: Kysely<Database>): Registry {
  const registry = new Registry();
  const countBy = async (table: 'tasks' | 'webhook_deliveries') =>
    db
      .selectFrom(table)
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();

  new Gauge({
    name: 'doom_tasks',
    help: 'Tasks by status.',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await countBy('tasks')) this.set({ status: r.status }, Number(r.n));
    },
  });
  new Gauge({
    name: 'doom_coordinator_queue_length',
    help: 'Tasks waiting for an agent.',
    registers: [registry],
    async collect() {
      const row = await db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'doom_inbox_deliveries',
    help: 'Stored webhook deliveries by status (failed ones need an operator).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await countBy('webhook_deliveries')) this.set({ status: r.status }, Number(r.n));
    },
  });
  const agents = () => db.selectFrom('agents').select(['name', 'tier', 'rolling_avg', 'total_tasks']).where('active', '=', 1).execute();
  new Gauge({
    name: 'doom_agent_reward',
    help: "Agent's rolling average reward over its evaluation window.",
    labelNames: ['agent'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const a of await agents()) this.set({ agent: a.name }, a.rolling_avg);
    },
  });
  new Gauge({
    name: 'doom_agent_tier',
    help: "1 for the agent's current tier.",
    labelNames: ['agent', 'tier'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const a of await agents()) this.set({ agent: a.name, tier: a.tier }, 1);
    },
  });
  new Gauge({
    name: 'doom_agent_success_rate',
    help: "Share of the agent's final rewards whose merge request was merged (merged / final, see README Rewards).",
    labelNames: ['agent'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [agent, s] of await successRates(db)) if (s.rate !== null) this.set({ agent }, s.rate);
    },
  });
  new Gauge({
    name: 'doom_evaluator_errors',
    help: 'Evaluations that failed (the previous reward stood), since the store was created.',
    registers: [registry],
    async collect() {
      const row = await db.selectFrom('evaluations').select((eb) => eb.fn.sum<number>('errors').as('n')).executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'doom_tokens_used',
    help: 'Tokens spent by agents, by agent.',
    labelNames: ['agent'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db
        .selectFrom('assignments')
        .select(['agent_name', (eb) => eb.fn.sum<number>(eb('input_tokens', '+', eb('output_tokens', '+', eb.ref('cache_tokens')))).as('n')])
        .groupBy('agent_name')
        .execute();
      for (const r of rows) this.set({ agent: r.agent_name }, Number(r.n ?? 0));
    },
  });
  return registry;
}
