/**
 * The routing book: every agent the router may pick, with its settled-outcome statistics,
 * held in memory so that a decision does no query and no parsing, at any fleet size.
 *
 * It is loaded once (the agents, and two aggregates over every settled outcome) and then kept
 * in step with the store by tailing what the store already stamps once: outcomes by their
 * settle stamp (store/outcomes.ts) and agent rows by `updated_at` (a tier change, a counter,
 * an agent sync, from this process or another, such as the CLI). `catchUp` before a routing
 * pass reads only what changed since the last one: usually nothing, or one row.
 *
 * Stamps are written in one transaction but may commit out of stamp order, so each tail reads
 * back `lagMs` before its mark and skips what it has already applied (by outcome key; an agent
 * row is simply applied again). What settled before the load's cutoff is in the aggregates;
 * the tail starts at the cutoff, so nothing is counted twice.
 *
 * ```ts
 * const book = await RoutingBook.load(db, config);
 * await book.catchUp(db);                     // before each routing pass
 * route(task, book.candidates(task.type), policyFrom(config, { now, rng, fleetMean: book.fleetMean() }));
 * book.assigned(agentName);                   // the pass's own assignment, before the next decision
 * ```
 */
import type { Kysely } from 'kysely';
import type { AgentFile } from '../agents/schema.js';
import type { Config, TaskType, Tier } from '../config/schema.js';
import { bradleyTerry } from '../pipeline/head-to-head.js';
import { activeLoad } from '../store/agents.js';
import { headToHead, latestPairId } from '../store/pipeline.js';
import { agentRows, agentsChangedSince, outcomesSince, outcomeTotals, totalsOf, type SettledOutcome, type TailStart } from '../store/outcomes.js';
import type { AgentRow, Database } from '../store/schema.js';
import { addOutcome, emptyTotals, type Totals } from './posterior.js';
import type { RoutableAgent } from './router.js';

interface Entry extends RoutableAgent {
  byType: Record<TaskType, Totals>;
  outcomes: Totals;
  /** The raw columns last applied, so an unchanged one is not parsed again. */
  specsJson: string;
  configJson: string;
}

export interface BookOptions {
  failedRunReward: number;
  /** How far back each tail reads for commits that landed out of stamp order. */
  lagMs?: number;
  clock?: () => number;
}

const DEFAULT_LAG_MS = 5_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const later = (a: string, b: string): string => (a > b ? a : b);

export class RoutingBook {
  private readonly agents = new Map<string, Entry>();
  private byType: Map<TaskType, Entry[]> | null = null;
  private readonly fleet = emptyTotals();
  /** Outcome keys applied within the lag window, with their stamps. */
  private readonly seen = new Map<string, string>();
  /** Each agent row's stamp as last applied. */
  private readonly seenAgents = new Map<string, string>();
  private readonly lagMs: number;
  private readonly clock: () => number;
  /** When the last catch-up read (wall clock, ms). */
  private lastRead: number;
  /** The newest head-to-head pair the strengths were fitted with. */
  private pairMark = 0;

  private constructor(
    private readonly options: BookOptions,
    /** The load's cutoff: outcomes before it came from the aggregates. */
    private readonly floor: string,
    private outcomeMark: string,
    private agentMark: string,
  ) {
    this.lagMs = options.lagMs ?? DEFAULT_LAG_MS;
    this.clock = options.clock ?? Date.now;
    this.lastRead = Date.parse(floor) + this.lagMs;
  }

  /** Reads the agents and every outcome settled until `lagMs` ago; `catchUp` brings in the rest. */
  static async load(db: Kysely<Database>, config: Pick<Config, 'routing'>, options: { clock?: () => number; lagMs?: number } = {}): Promise<RoutingBook> {
    const lagMs = options.lagMs ?? DEFAULT_LAG_MS;
    const clock = options.clock ?? Date.now;
    const cutoff = iso(clock() - lagMs);
    const [rows, totals] = await Promise.all([db.selectFrom('agents').selectAll().execute(), outcomeTotals(db, { before: cutoff })]);
    const book = new RoutingBook({ failedRunReward: config.routing.failed_run_reward, lagMs, clock }, cutoff, cutoff, '');
    for (const row of rows) {
      book.applyAgentRow(row);
      book.seenAgents.set(row.name, row.updated_at);
      book.agentMark = later(book.agentMark, row.updated_at);
    }
    for (const t of totals) {
      const e = book.agents.get(t.agent);
      if (!e || t.type === null) continue;
      const add = totalsOf(t, config.routing.failed_run_reward);
      const typed = e.byType[t.type];
      for (const target of [typed, e.outcomes, book.fleet]) {
        target.n += add.n;
        target.sum += add.sum;
        target.sumSq += add.sumSq;
      }
    }
    await book.catchUp(db);
    return book;
  }

  /** Applies what the store recorded since the last call: outcomes, agent rows, and the load now. */
  async catchUp(db: Kysely<Database>): Promise<void> {
    const readAt = this.clock();
    const [outcomes, changed, load, newestPair] = await Promise.all([
      outcomesSince(db, this.tailStart(this.outcomeMark)),
      agentsChangedSince(db, this.tailStart(this.agentMark)),
      activeLoad(db),
      latestPairId(db),
    ]);
    // Only rows whose stamp is new are read in full (a sync stamps every row at once).
    const fresh = changed.filter((c) => this.seenAgents.get(c.name) !== c.updated_at);
    for (const row of fresh.length > 0 ? await agentRows(db, fresh.map((c) => c.name)) : []) {
      this.applyAgentRow(row);
      this.seenAgents.set(row.name, row.updated_at);
      this.agentMark = later(this.agentMark, row.updated_at);
    }
    for (const o of outcomes) this.applyOutcome(o);
    const horizon = iso(Math.min(Date.parse(this.outcomeMark), this.lastRead) - this.lagMs);
    for (const [key, at] of this.seen) if (at < horizon) this.seen.delete(key);
    if (newestPair !== this.pairMark) await this.fitHeadToHead(db, newestPair);
    this.setLoad(load);
    this.lastRead = readAt;
  }

  /**
   * Everything after the mark, and everything stamped within `lagMs` before the last read
   * (a commit that landed out of stamp order): whichever starts earlier. Never before the
   * load's cutoff, which the aggregates covered.
   */
  private tailStart(mark: string): TailStart {
    const window = iso(this.lastRead - this.lagMs);
    const start: TailStart = mark !== '' && mark < window ? { op: '>', at: mark } : { op: '>=', at: window };
    return start.at < this.floor ? { op: '>=', at: this.floor } : start;
  }

  /** One settled outcome, once: a key already applied is skipped. */
  applyOutcome(o: SettledOutcome): void {
    if (this.seen.has(o.key) || o.at < this.floor) return;
    this.seen.set(o.key, o.at);
    this.outcomeMark = later(this.outcomeMark, o.at);
    const e = this.agents.get(o.agent);
    if (!e) return;
    const value = o.reward ?? this.options.failedRunReward;
    addOutcome(e.byType[o.type], value);
    addOutcome(e.outcomes, value);
    addOutcome(this.fleet, value);
  }

  /** An agent row as the store holds it now; only columns that changed are parsed. */
  applyAgentRow(row: AgentRow): void {
    let e = this.agents.get(row.name);
    if (!e) {
      e = {
        name: row.name,
        tier: row.tier as Tier,
        specializations: [],
        tags: [],
        load: 0,
        capacity: row.max_concurrent_tasks,
        active: row.active === 1,
        outcomes: emptyTotals(),
        // Every type from the start: one object shape for every agent keeps the router's loop fast.
        byType: { bugfix: emptyTotals(), feature: emptyTotals(), refactor: emptyTotals(), security: emptyTotals() },
        manualSuspension: false,
        quietSince: null,
        headToHead: 0,
        specsJson: '',
        configJson: '',
      };
      this.agents.set(row.name, e);
      this.byType = null;
    }
    if (e.specsJson !== row.specializations) {
      e.specsJson = row.specializations;
      e.specializations = JSON.parse(row.specializations) as TaskType[];
      this.byType = null;
    }
    if (e.configJson !== row.config) {
      e.configJson = row.config;
      e.tags = (JSON.parse(row.config) as Partial<AgentFile>).tags ?? [];
    }
    if (e.active !== (row.active === 1)) this.byType = null;
    e.active = row.active === 1;
    e.tier = row.tier as Tier;
    e.capacity = row.max_concurrent_tasks;
    e.manualSuspension = row.manual_override?.startsWith('suspended@') ?? false;
    const since = row.tier_since ?? row.created_at;
    e.quietSince = Date.parse(row.last_assigned_at && row.last_assigned_at > since ? row.last_assigned_at : since);
  }

  /**
   * Each agent's log Bradley–Terry strength over every head-to-head pair the pipeline stored;
   * refitted only when a pair was added (pairs are few: K − 1 per pipeline task at most).
   */
  private async fitHeadToHead(db: Kysely<Database>, newest: number): Promise<void> {
    const strengths = bradleyTerry(await headToHead(db));
    for (const e of this.agents.values()) {
      const s = strengths.get(e.name);
      e.headToHead = s === undefined ? 0 : Math.log(s);
    }
    this.pairMark = newest;
  }

  /** Every agent's load, from one read of the open assignments. */
  setLoad(load: ReadonlyMap<string, number>): void {
    for (const e of this.agents.values()) e.load = load.get(e.name) ?? 0;
  }

  /** The pass's own assignment, so its next decision sees the agent's new load. */
  assigned(name: string): void {
    const e = this.agents.get(name);
    if (e) e.load++;
  }

  /** The active agents specialized in `type`: what the router looks at for such a task. */
  candidates(type: TaskType): readonly RoutableAgent[] {
    if (!this.byType) {
      const index = new Map<TaskType, Entry[]>();
      for (const e of this.agents.values()) {
        if (!e.active) continue;
        for (const t of e.specializations) {
          let list = index.get(t);
          if (!list) index.set(t, (list = []));
          list.push(e);
        }
      }
      this.byType = index;
    }
    return this.byType.get(type) ?? [];
  }

  /** Every agent, active or not (forcing an agent looks it up here). */
  all(): readonly RoutableAgent[] {
    return [...this.agents.values()];
  }

  get(name: string): RoutableAgent | undefined {
    return this.agents.get(name);
  }

  /** The mean of every settled outcome: where an agent with none is believed to stand. */
  fleetMean(): number {
    return this.fleet.n === 0 ? 0 : this.fleet.sum / this.fleet.n;
  }

  get size(): number {
    return this.agents.size;
  }
}
