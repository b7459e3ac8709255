/**
 * The pipeline's rows (migrations/0014_pipeline.ts): an execution per attempt, its candidates
 * and the head-to-head outcomes between them. Each write is one statement or one transaction,
 * and idempotent (keyed by attempt and candidate index), so a phase written twice is one row.
 * JSON columns are decoded here with the pipeline's own schemas: callers hold no casts.
 */
import type { Kysely } from 'kysely';
import type { PastRun } from '../pipeline/breakers.js';
import { Checks, ExecutionState, type PairOutcome } from '../pipeline/schemas.js';
import type { Database, PipelineCandidateRow, PipelinePairRow } from './schema.js';
import { nowIso } from './time.js';

export interface ExecutionMetrics {
  outcome: string | null;
  pass_at_1: boolean | null;
  pass_at_k: boolean | null;
  candidates: number;
  cost_usd: number;
  tokens: number;
  duration_ms: number;
  suite_reruns: number;
  flaky_reruns: number;
}

const bit = (b: boolean | null): number | null => (b === null ? null : b ? 1 : 0);

/** Writes the attempt's execution state (and its metrics so far); the first write creates the row. */
export async function saveExecution(db: Kysely<Database>, state: ExecutionState, metrics: ExecutionMetrics): Promise<void> {
  const now = nowIso();
  const values = {
    state: JSON.stringify(ExecutionState.parse(state)),
    outcome: metrics.outcome,
    pass_at_1: bit(metrics.pass_at_1),
    pass_at_k: bit(metrics.pass_at_k),
    candidates: metrics.candidates,
    cost_usd: metrics.cost_usd,
    tokens: metrics.tokens,
    duration_ms: Math.round(metrics.duration_ms),
    suite_reruns: metrics.suite_reruns,
    flaky_reruns: metrics.flaky_reruns,
    updated_at: now,
  };
  await db
    .insertInto('pipeline_executions')
    .values({ assignment_id: state.attempt, task_id: state.task_id, started_at: now, ...values })
    .onConflict((oc) => oc.column('assignment_id').doUpdateSet(values))
    .execute();
}

/** The newest execution state of a task, decoded; null when the pipeline never ran it. */
export async function latestExecution(db: Kysely<Database>, taskId: number): Promise<ExecutionState | null> {
  const row = await db.selectFrom('pipeline_executions').select('state').where('task_id', '=', taskId).orderBy('assignment_id', 'desc').limit(1).executeTakeFirst();
  return row ? ExecutionState.parse(JSON.parse(row.state)) : null;
}

export interface NewCandidate {
  assignmentId: number;
  taskId: number;
  index: number;
  agent: string;
  variant: string;
  outcome: string;
  error: string | null;
  commitSha: string | null;
  patch: string | null;
  patchHash: string | null;
  diffLines: number;
  tokens: number;
  costUsd: number;
  turns: number;
  durationMs: number;
  transcript: string;
  summary: string | null;
  checks: Checks | null;
  passed: boolean;
}

/** Records a candidate once its run and checks are done (again: the same row, updated). */
export async function recordCandidate(db: Kysely<Database>, c: NewCandidate): Promise<void> {
  const values = {
    agent_name: c.agent,
    variant: c.variant,
    outcome: c.outcome,
    error: c.error,
    commit_sha: c.commitSha,
    patch: c.patch,
    patch_hash: c.patchHash,
    diff_lines: c.diffLines,
    tokens: c.tokens,
    cost_usd: c.costUsd,
    turns: c.turns,
    duration_ms: Math.round(c.durationMs),
    transcript: c.transcript,
    summary: c.summary,
    checks: c.checks ? JSON.stringify(Checks.parse(c.checks)) : null,
    passed: c.passed ? 1 : 0,
  };
  await db
    .insertInto('pipeline_candidates')
    .values({ assignment_id: c.assignmentId, task_id: c.taskId, idx: c.index, cluster: null, selected: 0, created_at: nowIso(), ...values })
    .onConflict((oc) => oc.columns(['assignment_id', 'idx']).doUpdateSet(values))
    .execute();
}

export interface SelectionRecord {
  assignmentId: number;
  taskId: number;
  /** Candidate index → cluster (the index of the first candidate with the same normalized patch). */
  clusters: Map<number, number | null>;
  selected: number | null;
  pairs: readonly PairOutcome[];
}

/** The review's verdict in one transaction: clusters, the winner, and the head-to-head outcomes. */
export async function recordSelection(db: Kysely<Database>, s: SelectionRecord): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const [idx, cluster] of s.clusters) {
      await trx
        .updateTable('pipeline_candidates')
        .set({ cluster, selected: idx === s.selected ? 1 : 0 })
        .where('assignment_id', '=', s.assignmentId)
        .where('idx', '=', idx)
        .execute();
    }
    const now = nowIso();
    for (const p of s.pairs) {
      await trx
        .insertInto('pipeline_pairs')
        .values({ assignment_id: s.assignmentId, task_id: s.taskId, winner_idx: p.winner, loser_idx: p.loser, winner_agent: p.winner_agent, loser_agent: p.loser_agent, reason: p.reason, created_at: now })
        .onConflict((oc) => oc.columns(['assignment_id', 'winner_idx', 'loser_idx']).doNothing())
        .execute();
    }
  });
}

export interface CandidateView extends Omit<PipelineCandidateRow, 'checks'> {
  checks: Checks | null;
}

/**
 * The agent whose candidate the pipeline chose for an attempt: the merge request carries that
 * agent's work, so its reward is that agent's. Null when the attempt ran no pipeline (or chose none).
 */
export async function selectedCandidateAgent(db: Kysely<Database>, assignmentId: number): Promise<string | null> {
  const row = await db.selectFrom('pipeline_candidates').select('agent_name').where('assignment_id', '=', assignmentId).where('selected', '=', 1).executeTakeFirst();
  return row?.agent_name ?? null;
}

/** A task's candidates over all its attempts, oldest first. */
export async function candidatesOfTask(db: Kysely<Database>, taskId: number): Promise<CandidateView[]> {
  const rows = await db.selectFrom('pipeline_candidates').selectAll().where('task_id', '=', taskId).orderBy('assignment_id').orderBy('idx').execute();
  return rows.map((r) => ({ ...r, checks: r.checks ? Checks.parse(JSON.parse(r.checks)) : null }));
}

/** The newest head-to-head outcome's id (0 with none): the routing book refits only when it moves. */
export async function latestPairId(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('pipeline_pairs').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return Number(row?.id ?? 0);
}

/** Every stored head-to-head outcome, oldest first: the router's pairwise evidence (see README *Pipeline*). */
export function headToHead(db: Kysely<Database>, taskId?: number): Promise<PipelinePairRow[]> {
  let q = db.selectFrom('pipeline_pairs').selectAll();
  if (taskId !== undefined) q = q.where('task_id', '=', taskId);
  return q.orderBy('id').execute();
}

/** The newest pipeline runs, of one agent or of all, newest first: what the breakers read. */
export async function recentRuns(db: Kysely<Database>, limit: number, agent?: string): Promise<PastRun[]> {
  let q = db.selectFrom('pipeline_candidates').select(['passed', 'error', 'created_at']);
  if (agent !== undefined) q = q.where('agent_name', '=', agent);
  const rows = await q.orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ passed: r.passed === 1, error: r.error, at: r.created_at }));
}

export interface PipelineSummary {
  executions: number;
  /** Shares of executions that reached review; null before any did. */
  pass_at_1: number | null;
  pass_at_k: number | null;
  cost_usd: number;
  mean_cost_usd: number | null;
  mean_duration_ms: number | null;
  suite_reruns: number;
  flaky_reruns: number;
  /** Flaky re-runs over all re-runs; null before any re-run. */
  flake_rate: number | null;
}

export async function pipelineSummary(db: Kysely<Database>): Promise<PipelineSummary> {
  const rows = await db
    .selectFrom('pipeline_executions')
    .select(['pass_at_1', 'pass_at_k', 'cost_usd', 'duration_ms', 'suite_reruns', 'flaky_reruns'])
    .execute();
  const reviewed = rows.filter((r) => r.pass_at_k !== null);
  const share = (key: 'pass_at_1' | 'pass_at_k') => (reviewed.length === 0 ? null : reviewed.filter((r) => r[key] === 1).length / reviewed.length);
  const cost = rows.reduce((s, r) => s + r.cost_usd, 0);
  const reruns = rows.reduce((s, r) => s + r.suite_reruns, 0);
  const flaky = rows.reduce((s, r) => s + r.flaky_reruns, 0);
  return {
    executions: rows.length,
    pass_at_1: share('pass_at_1'),
    pass_at_k: share('pass_at_k'),
    cost_usd: cost,
    mean_cost_usd: rows.length === 0 ? null : cost / rows.length,
    mean_duration_ms: rows.length === 0 ? null : rows.reduce((s, r) => s + r.duration_ms, 0) / rows.length,
    suite_reruns: reruns,
    flaky_reruns: flaky,
    flake_rate: reruns === 0 ? null : flaky / reruns,
  };
}

/** Each execution's duration so far, for the latency histogram. */
export async function executionDurations(db: Kysely<Database>): Promise<number[]> {
  const rows = await db.selectFrom('pipeline_executions').select('duration_ms').execute();
  return rows.map((r) => r.duration_ms);
}
