/**
 * The Scoreboard Store's files of the seed, written from the store: `rlvr.jsonl` (one line per
 * reward, the seed's fields first, then what the store adds) and `agent_tiers.json`.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { settledKinds } from '../store/rewards.js';
import type { Database, RewardKind, RewardRow } from '../store/schema.js';

/** One line of `rlvr.jsonl`, in this key order. */
export interface RlvrLine {
  /** When the reward got its current value (ISO-8601 UTC). */
  timestamp: string;
  task_id: number;
  agent: string;
  reward: number;
  components: Record<string, number>;
  kind: RewardKind;
  /** True when some signal was missing and the reward was computed without it. */
  degraded: boolean;
  weights: Record<string, number>;
  evaluator_version: string;
  hook_duration_ms: number;
}

export interface AgentTiersFile {
  agents: Record<string, { tier: string; rolling_avg: number; last_updated: string }>;
}

/** Rows read per query while exporting, by default. */
const PAGE = 5_000;

export function rlvrLine(r: RewardRow): RlvrLine {
  return {
    timestamp: r.updated_at,
    task_id: r.task_id,
    agent: r.agent_name,
    reward: r.reward,
    components: JSON.parse(r.components) as Record<string, number>,
    kind: r.kind,
    degraded: r.degraded === 1,
    weights: JSON.parse(r.weights) as Record<string, number>,
    evaluator_version: r.evaluator_version,
    hook_duration_ms: r.hook_duration_ms,
  };
}

async function write(stream: Writable, text: string): Promise<void> {
  if (stream.errored) throw stream.errored;
  if (stream.write(text)) return;
  // Backpressure. `once` rejects if the stream emits 'error' while we wait.
  await once(stream, 'drain');
}

/**
 * Writes every reward (all kinds; `kind` says which are settled) as one JSON line, in id order,
 * reading the store a page at a time by id. A function receives each line without its newline;
 * a stream gets the line and `\n`, with backpressure respected. Resolves to the lines written.
 */
export async function exportRlvrJsonl(
  db: Kysely<Database>,
  out: Writable | ((line: string) => void),
  options: { pageSize?: number } = {},
): Promise<number> {
  const pageSize = options.pageSize ?? PAGE;
  let after = 0;
  let count = 0;
  for (;;) {
    const page = await db.selectFrom('rewards').selectAll().where('id', '>', after).orderBy('id').limit(pageSize).execute();
    if (page.length === 0) return count;
    if (typeof out === 'function') {
      for (const row of page) out(JSON.stringify(rlvrLine(row)));
    } else {
      await write(out, page.map((row) => `${JSON.stringify(rlvrLine(row))}\n`).join(''));
    }
    count += page.length;
    after = page.at(-1)!.id;
    if (page.length < pageSize) return count;
  }
}

/**
 * Every agent (active or not) with its tier and rolling average, by name. `last_updated` is when
 * the agent's standing last moved: its newest settled reward or its newest tier change,
 * whichever is later (the tier history starts with the agent's first tier).
 */
export async function exportAgentTiers(db: Kysely<Database>): Promise<AgentTiersFile> {
  const [agents, rewarded, moved] = await Promise.all([
    db.selectFrom('agents').select(['name', 'tier', 'rolling_avg', 'created_at']).orderBy('name').execute(),
    db
      .selectFrom('rewards')
      .select((eb) => ['agent_name', eb.fn.max('settled_at').as('at')])
      .where('kind', 'in', settledKinds)
      .groupBy('agent_name')
      .execute(),
    db
      .selectFrom('tier_history')
      .select((eb) => ['agent_name', eb.fn.max('created_at').as('at')])
      .groupBy('agent_name')
      .execute(),
  ]);
  const latest = new Map<string, string>();
  for (const { agent_name, at } of [...rewarded, ...moved]) {
    const seen = latest.get(agent_name);
    if (at !== null && (seen === undefined || at > seen)) latest.set(agent_name, at);
  }
  const out: AgentTiersFile = { agents: {} };
  for (const a of agents) {
    out.agents[a.name] = { tier: a.tier, rolling_avg: a.rolling_avg, last_updated: latest.get(a.name) ?? a.created_at };
  }
  return out;
}
