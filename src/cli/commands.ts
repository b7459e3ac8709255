/** The CLI commands, each returning the text to print (JSON or a table). */
import { emptyTotals, formatBounds, meanBounds, type MeanBounds } from '../routing/posterior.js';
import { foldEvidence, outcomeTotals, pendingRewards } from '../store/outcomes.js';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Tier } from '../config/schema.js';
import { exportAgentTiers, exportRlvrJsonl } from '../rewards/export.js';
import { parseComponentArgs, recordManualReward } from '../rewards/manual.js';
import { activeLoad, listAgents, syncAgents, type AgentSync } from '../store/agents.js';
import { runsOfTask } from '../store/assignments.js';
import { auditEntries } from '../store/audit.js';
import { hookEventsOf } from '../store/hook-events.js';
import { deliveryCounts } from '../store/deliveries.js';
import { rewardsOf, successRates } from '../store/rewards.js';
import type { AgentRow, AuditRow, HookEventRow } from '../store/schema.js';
import { getTask, listTasks, taskCounts } from '../store/tasks.js';
import { recomputeAllTiers } from '../tiers/recompute.js';
import { announceTierChanges, TierError } from '../tiers/service.js';
import { changeTier } from '../tiers/manual.js';
import { pendingTasks } from '../store/tasks.js';
import { unstartedTasksOf } from '../store/transitions.js';
import type { CliContext } from './context.js';
import { num, table } from './format.js';
import { ExpectedError } from '../errors.js';
import { pipelineSummary } from '../store/pipeline.js';
import { pipelineStatusLine } from './pipeline-status.js';

/** An error the operator can act on: printed without a stack trace. */
export class CliError extends ExpectedError {}

const json = (value: unknown): string => JSON.stringify(value, null, 2);


export async function status(ctx: CliContext, format: string): Promise<string> {
  const db = ctx.store.db;
  const [tasks, deliveries, agents, load, recent, pipeline] = await Promise.all([
    taskCounts(db),
    deliveryCounts(db),
    listAgents(db),
    activeLoad(db),
    listTasks(db, { limit: 10 }),
    pipelineSummary(db),
  ]);
  const tiers: Record<string, number> = {};
  for (const a of agents) tiers[a.tier] = (tiers[a.tier] ?? 0) + 1;
  const data = {
    database: ctx.store.dialect,
    forges: { github: ctx.forges.configured('github'), gitlab: ctx.forges.configured('gitlab') },
    tasks,
    deliveries,
    agents: { total: agents.length, busy: [...load.values()].filter((n) => n > 0).length, tiers },
    pipeline,
    recent_tasks: recent.map((t) => ({
      id: t.id,
      status: t.status,
      type: t.type,
      priority: t.priority,
      agent: t.assigned_agent,
      issue: t.issue_url,
      waiting: t.pending_reason,
      error: t.error_message,
    })),
  };
  if (format === 'json') return json(data);
  const counts = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    `database   ${data.database}`,
    `forges     github ${data.forges.github ? 'configured' : 'not configured'}, gitlab ${data.forges.gitlab ? 'configured' : 'not configured'}`,
    `tasks      ${counts(tasks)}`,
    `inbox      ${counts(deliveries)}`,
    `agents     ${agents.length} (${counts(tiers)}), ${data.agents.busy} busy`,
    pipelineStatusLine(pipeline),
    '',
    recent.length === 0
      ? 'no tasks yet'
      : table(
          ['task', 'status', 'type', 'prio', 'agent', 'issue', 'note'],
          data.recent_tasks.map((t) => [t.id, t.status, t.type, t.priority, t.agent, t.issue, t.waiting ?? t.error]),
        ),
  ].join('\n');
}

export async function assign(ctx: CliContext, opts: { task: number; forceAgent?: string }): Promise<string> {
  const decision = await ctx.tasks.tryAssign(opts.task, { forceAgent: opts.forceAgent, actor: 'cli' });
  if (decision.kind === 'pending') return `task ${opts.task} stays pending: ${decision.reason}`;
  return [`task ${opts.task} assigned to ${decision.agent}`, ...decision.reasons.map((r) => `  - ${r}`)].join('\n');
}

/**
 * Every agent's mean over its settled outcomes with the bounds its tier reads (tiers/rules.ts),
 * and how many of its rewards are still pending (an open merge request).
 */
async function evidenceByAgent(ctx: CliContext): Promise<{ bounds: (name: string) => MeanBounds | null; pending: Map<string, number> }> {
  const { config } = ctx.loaded;
  const [rows, pending] = await Promise.all([outcomeTotals(ctx.store.db, { perType: false }), pendingRewards(ctx.store.db)]);
  const evidence = foldEvidence(rows, config.routing.failed_run_reward);
  const prior = { sd: config.routing.prior_sd, weight: config.routing.prior_weight };
  return { bounds: (name) => meanBounds(evidence.get(name)?.totals ?? emptyTotals(), prior, config.tiers.confidence), pending };
}

const boundsCell = (b: MeanBounds | null): string | null => (b ? `${num(b.mean)} ± ${num(b.halfWidth)} (${b.n})` : null);

export async function agentsList(ctx: CliContext, opts: { tier?: string; format: string }): Promise<string> {
  const [agents, load, rates, evidence] = await Promise.all([
    listAgents(ctx.store.db, { tier: opts.tier }),
    activeLoad(ctx.store.db),
    successRates(ctx.store.db),
    evidenceByAgent(ctx),
  ]);
  const successRate = (a: AgentRow) => rates.get(a.name)?.rate ?? null;
  const rows = agents.map((a) => ({
    name: a.name,
    tier: a.tier,
    specializations: JSON.parse(a.specializations) as string[],
    rolling_avg: a.rolling_avg,
    total_tasks: a.total_tasks,
    success_rate: successRate(a),
    load: load.get(a.name) ?? 0,
    capacity: a.max_concurrent_tasks,
    override: a.manual_override,
    // The tier's evidence: every settled outcome (failed runs included), with its bounds.
    mean: evidence.bounds(a.name),
    pending_rewards: evidence.pending.get(a.name) ?? 0,
  }));
  if (opts.format === 'json') return json(rows);
  if (rows.length === 0) return opts.tier ? `no ${opts.tier} agents` : 'no agents';
  return table(
    ['name', 'tier', 'specializations', 'avg', 'tasks', 'success', 'load', 'override', 'mean ± bound (n)', 'pending'],
    rows.map((r) => [
      r.name,
      r.tier,
      r.specializations.join(','),
      num(r.rolling_avg),
      r.total_tasks,
      r.success_rate === null ? null : `${Math.round(r.success_rate * 100)}%`,
      `${r.load}/${r.capacity}`,
      r.override,
      boundsCell(r.mean),
      r.pending_rewards,
    ]),
  );
}

/** `doom agents sync`: brings the store in line with the agent files and says what changed. */
export async function agentsSync(ctx: CliContext, opts: { format: string }): Promise<string> {
  const sync = await syncAgents(ctx.store.db, ctx.loaded.agents);
  if (opts.format === 'json') return json(sync);
  const lines = (Object.entries(sync) as [keyof AgentSync, string[]][])
    .filter(([, names]) => names.length > 0)
    .map(([change, names]) => `${change}: ${names.join(', ')}`);
  const source = `${ctx.loaded.agents.length} agent file(s) in ${ctx.loaded.agentsDir}`;
  return lines.length === 0 ? `the agent pool already matches ${source}` : [`synced with ${source}`, ...lines].join('\n');
}

/**
 * Says `tier.changed` for `changes` (its consequences release and route, see events.ts) and
 * counts what they did: tasks given back by suspended agents, and waiting tasks assigned.
 */
async function announce(ctx: CliContext, changes: readonly { name: string; from: string; to: string }[], source: 'manual'): Promise<{ released: number; assigned: number }> {
  const db = ctx.store.db;
  let released = 0;
  for (const c of changes) if (c.to === 'suspended' && c.from !== c.to) released += (await unstartedTasksOf(db, c.name)).length;
  const waiting = (await pendingTasks(db)).length;
  await announceTierChanges(ctx.events, changes, { source, actor: 'cli' });
  return { released, assigned: Math.max(0, waiting - (await pendingTasks(db)).length) };
}

export async function promote(ctx: CliContext, name: string, opts: { to?: string; reason?: string }): Promise<string> {
  const change = { kind: 'promote', agent: name, actor: 'cli', ...(opts.to ? { to: opts.to as Tier } : {}), ...(opts.reason ? { reason: opts.reason } : {}) } as const;
  // A promotion can make an agent eligible for waiting tasks.
  const { agent, assigned } = await changeTier({ db: ctx.store.db, events: ctx.events }, change);
  return `${agent.name} is now ${agent.tier}${assigned > 0 ? ` (${assigned} waiting task(s) assigned)` : ''}`;
}

export async function suspend(ctx: CliContext, name: string, opts: { reason?: string }): Promise<string> {
  const change = { kind: 'suspend', agent: name, actor: 'cli', ...(opts.reason ? { reason: opts.reason } : {}) } as const;
  const { agent, released } = await changeTier({ db: ctx.store.db, events: ctx.events }, change);
  return `${agent.name} is suspended${released > 0 ? `; ${released} task(s) it had not started went back to the router` : ''}`;
}

export async function scores(ctx: CliContext, opts: { agent: string; last: number; format: string }): Promise<string> {
  const agent = (await listAgents(ctx.store.db, { includeInactive: true })).find((a) => a.name === opts.agent);
  if (!agent) throw new TierError(`agent "${opts.agent}" does not exist`);
  const rows = await rewardsOf(ctx.store.db, opts.agent, opts.last);
  const data = rows.map((r) => ({
    // Stamped once (created, then settled): re-evaluating a reward does not move it.
    timestamp: r.settled_at ?? r.created_at,
    attempt: r.assignment_id,
    task_id: r.task_id,
    reward: r.reward,
    kind: r.kind,
    degraded: r.degraded === 1,
    components: JSON.parse(r.components) as Record<string, number>,
  }));
  const evidence = await evidenceByAgent(ctx);
  const bounds = evidence.bounds(agent.name);
  const pending = evidence.pending.get(agent.name) ?? 0;
  if (opts.format === 'json') {
    return json({ agent: agent.name, tier: agent.tier, rolling_avg: agent.rolling_avg, mean: bounds, pending_rewards: pending, rewards: data });
  }
  const header = `${agent.name}: ${agent.tier}, rolling average ${num(agent.rolling_avg)}, ${bounds ? `mean ${formatBounds(bounds)}` : 'no settled outcomes yet'}, ${pending} pending`;
  if (data.length === 0) return `${header}\nno rewards yet`;
  return `${header}\n${table(
    ['time', 'task', 'reward', 'kind', 'cov', 'lint', 'sec', 'cplx', 'ci', 'review'],
    data.map((r) => [
      r.timestamp,
      r.task_id,
      num(r.reward),
      r.kind + (r.degraded ? '*' : ''),
      ...['test_coverage_delta', 'lint_score', 'security_scan_score', 'code_complexity_delta', 'ci_pipeline_status', 'review_feedback_score'].map(
        (k) => (r.components[k] === undefined ? null : num(r.components[k]!)),
      ),
    ]),
  )}`;
}

export async function leaderboard(ctx: CliContext, opts: { metric: 'reward' | 'tasks' | 'success-rate'; format: string }): Promise<string> {
  const [agents, rates] = await Promise.all([listAgents(ctx.store.db), successRates(ctx.store.db)]);
  const successRate = (a: AgentRow) => rates.get(a.name)?.rate ?? null;
  const key = (a: AgentRow): number =>
    opts.metric === 'reward' ? a.rolling_avg : opts.metric === 'tasks' ? a.total_tasks : (successRate(a) ?? -1);
  const ranked = [...agents].sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name));
  const rows = ranked.map((a, i) => ({
    rank: i + 1,
    name: a.name,
    tier: a.tier,
    rolling_avg: a.rolling_avg,
    total_tasks: a.total_tasks,
    success_rate: successRate(a),
  }));
  if (opts.format === 'json') return json({ metric: opts.metric, agents: rows });
  return table(
    ['#', 'agent', 'tier', 'avg reward', 'tasks', 'success'],
    rows.map((r) => [
      r.rank,
      r.name,
      r.tier,
      num(r.rolling_avg),
      r.total_tasks,
      r.success_rate === null ? null : `${Math.round(r.success_rate * 100)}%`,
    ]),
  );
}

export async function reward(ctx: CliContext, opts: { task: number; agent: string; component: string[] }): Promise<string> {
  const components = parseComponentArgs(opts.component);
  const result = await recordManualReward(ctx.store.db, ctx.loaded.config, {
    taskId: opts.task,
    agent: opts.agent,
    components,
    actor: 'cli',
  }, ctx.events);
  return `reward ${num(result.reward.reward)} recorded for ${opts.agent} on task ${opts.task}; tier ${result.tier}${
    result.tierChanged ? ' (changed)' : ''
  }`;
}

const formatEntry = (e: AuditRow): string => {
  const who = [e.task_id !== null ? `task ${e.task_id}` : null, e.agent_name].filter(Boolean).join(' ');
  return `${e.at}  ${e.event.padEnd(20)} ${who ? `${who}  ` : ''}by ${e.actor}  ${e.data}`;
};

const formatHook = (e: HookEventRow): string =>
  `${e.at}  ${`hook.${e.type}`.padEnd(20)} ${e.task_id !== null ? `task ${e.task_id} ` : ''}${e.agent_name}  run ${e.run_id ?? '-'}  ${e.payload}`;

interface LogPage {
  lines: string[];
  lastAudit: number;
  lastHook: number;
}

/**
 * The newest `limit` audit entries and hook events after the given ids, merged in time order
 * (a run's hook events sit among the decisions around it), with the ids to continue from.
 */
async function logPage(
  db: CliContext['store']['db'],
  filter: { agent?: string; taskId?: number },
  /** Null for the first page, the newest `limit`; a tail's next pages read all after these ids. */
  after: { audit: number; hook: number } | null,
  limit: number,
): Promise<LogPage> {
  const following = after !== null;
  const [entries, hooks] = await Promise.all([
    auditEntries(db, { ...filter, afterId: after?.audit, limit }),
    hookEventsOf(db, { ...filter, afterId: after?.hook, limit }),
  ]);
  const lines = [...entries.map((e) => ({ at: e.at, text: formatEntry(e) })), ...hooks.map((h) => ({ at: h.at, text: formatHook(h) }))];
  lines.sort((a, b) => a.at.localeCompare(b.at));
  return {
    lines: (following ? lines : lines.slice(-limit)).map((l) => l.text),
    lastAudit: entries.at(-1)?.id ?? after?.audit ?? 0,
    lastHook: hooks.at(-1)?.id ?? after?.hook ?? 0,
  };
}

/** `doom logs --task N`: the task and its runs with their errors, then its audit entries and its runs' hook events, in time order. */
export async function taskLogs(ctx: CliContext, opts: { task: number; agent?: string; lines: number }, out: (text: string) => void): Promise<void> {
  await taskDetails(ctx, opts.task, out);
  const page = await logPage(ctx.store.db, { agent: opts.agent, taskId: opts.task }, null, opts.lines);
  if (page.lines.length === 0) out(`no log entries for task ${opts.task}`);
  page.lines.forEach(out);
}

/** `doom logs`: audit entries and hook events, newest last; `--tail` keeps following both. */
export async function logs(
  ctx: CliContext,
  opts: { tail?: boolean; agent?: string; task?: number; lines: number },
  out: (text: string) => void,
  stop: AbortSignal = new AbortController().signal,
): Promise<void> {
  const db = ctx.store.db;
  if (opts.task !== undefined) await taskDetails(ctx, opts.task, out);
  const filter = { agent: opts.agent, taskId: opts.task };
  let page = await logPage(db, filter, null, opts.lines);
  page.lines.forEach(out);
  if (!opts.tail) return;
  while (!stop.aborted) {
    await new Promise((r) => setTimeout(r, 500));
    page = await logPage(db, filter, { audit: page.lastAudit, hook: page.lastHook }, 500);
    page.lines.forEach(out);
  }
}

/**
 * `doom logs --task N`, first part: the task and each of its runs with the raw error. This is
 * where a failure's details live; the issue only shows a short reason.
 */
async function taskDetails(ctx: CliContext, taskId: number, out: (text: string) => void): Promise<void> {
  const task = await getTask(ctx.store.db, taskId);
  if (!task) throw new CliError(`task ${taskId} does not exist`);
  out(`task ${task.id}  ${task.status}  ${task.repo}#${task.issue_number}${task.error_message ? `  ${task.error_message}` : ''}`);
  for (const r of await runsOfTask(ctx.store.db, taskId)) {
    const when = r.finished_at ?? r.started_at ?? r.assigned_at;
    out(`run ${r.id}  ${r.agent_name}  ${r.status}${r.outcome ? ` (${r.outcome})` : ''}  ${when}${r.error ? `\n  error: ${r.error.replace(/\n/g, '\n  ')}` : ''}`);
  }
}

/** A file-system error as the operator needs it: `EACCES: permission denied`, without Node's path. */
const fsReason = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException;
  return e.code && e.message.startsWith(`${e.code}:`) ? e.message.split(', ')[0]! : e.message;
};

/**
 * Writes `path` through a temporary file beside it, renamed into place once complete, so a
 * reader never sees half a file and a failed export leaves the previous one. File-system
 * failures become `cannot write <path>: <reason>`.
 */
async function writeAtomically<T>(path: string, fill: (stream: Writable) => Promise<T>): Promise<T> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fail = (error: unknown): never => {
    throw new CliError(`cannot write ${path}: ${fsReason(error)}`);
  };
  let stream: Writable | undefined;
  try {
    stream = createWriteStream(temp);
    let streamError: unknown;
    stream.on('error', (error) => (streamError ??= error));
    const result = await fill(stream);
    stream.end();
    await finished(stream);
    if (streamError) throw streamError;
    await rename(temp, path);
    return result;
  } catch (error) {
    stream?.destroy();
    await rm(temp, { force: true }).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code && !(error instanceof CliError)) fail(error);
    throw error;
  }
}

/** `doom scores export`: the seed's scoreboard files, rlvr.jsonl and agent_tiers.json. */
export async function exportScores(ctx: CliContext, opts: { outDir: string }): Promise<string> {
  const db = ctx.store.db;
  await mkdir(opts.outDir, { recursive: true }).catch((error: unknown) => {
    throw new CliError(`cannot write ${opts.outDir}: ${fsReason(error)}`);
  });
  const jsonl = join(opts.outDir, 'rlvr.jsonl');
  const tiersFile = join(opts.outDir, 'agent_tiers.json');
  const rewards = await writeAtomically(jsonl, (stream) => exportRlvrJsonl(db, stream));
  const tiers = await exportAgentTiers(db);
  await writeAtomically(tiersFile, async (stream) => {
    stream.write(`${JSON.stringify(tiers, null, 2)}\n`);
  });
  const agents = Object.keys(tiers.agents).length;
  return [`wrote ${rewards} reward(s) to ${jsonl}`, `wrote ${agents} agent(s) to ${tiersFile}`].join('\n');
}

/** `doom tiers update`: the nightly recompute, by hand; then routing follows the changes. */
export async function tiersUpdate(ctx: CliContext, opts: { format: string }): Promise<string> {
  const result = await recomputeAllTiers(ctx.store.db, ctx.loaded.config, { source: 'manual', actor: 'cli' });
  const { released, assigned } = await announce(ctx, result.changed, 'manual');
  if (opts.format === 'json') {
    return json({
      agents: result.agents,
      changed: result.changed,
      updated: result.updated,
      released_tasks: released,
      assigned_tasks: assigned,
      duration_ms: Math.round(result.durationMs),
    });
  }
  const corrected = result.updated - result.changed.length;
  const summary =
    `recomputed ${result.agents} agent(s): ${result.changed.length === 0 ? 'no tier changes' : `${result.changed.length} tier change(s)`}` +
    (corrected > 0 ? `, ${corrected} agent row(s) corrected without a tier change` : '') +
    (released > 0 ? `, ${released} task(s) of suspended agents back to the router` : '') +
    (assigned > 0 ? `, ${assigned} waiting task(s) assigned` : '');
  if (result.changed.length === 0) return summary;
  return `${summary}\n${table(
    ['agent', 'from', 'to', 'reason'],
    result.changed.map((c) => [c.name, c.from, c.to, c.reason]),
  )}`;
}
