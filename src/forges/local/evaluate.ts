/**
 * `doom evaluate`: what Claude Code's `SubagentStop` hook runs (see `doom init`), so that a
 * person's own subagents earn rewards. The subagent has already done its work in the
 * person's checkout; that uncommitted change becomes a run of a local task, through the same
 * executor (the working-tree runner carries the change into a worktree, then the bot commits,
 * guards and pushes it as a branch), the repository's own commands as its pipeline, and the
 * same evaluator and tiers. The reward is provisional, like any merge request's, until
 * `doom review` merges or closes the branch.
 *
 * ```ts
 * const input = parseSubagentStop(stdinText);
 * const target = evaluationTarget({ taskId: 'bug-123' }, input);
 * const result = await evaluateSubagent({ core, loaded, log }, { ...target, repo: '.' }, input, print);
 * ```
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { botPlaces, type openCore } from '../../app.js';
import type { LoadedConfig } from '../../config/load.js';
import type { TaskType } from '../../config/schema.js';
import { taskType } from '../../config/schema.js';
import { withHookEvents } from '../../executor/hooks.js';
import { LocalExecutor } from '../../executor/local.js';
import type { Logger } from '../../log.js';
import { emptyUsage, type Runner } from '../../runners/runner.js';
import { WorkingTreeRunner, workingTreeChange } from '../../runners/working-tree.js';
import { getAgent, syncAgents } from '../../store/agents.js';
import { recordHookEvents } from '../../store/hook-events.js';
import { rewardOfAttempt } from '../../store/rewards.js';
import type { TaskRow } from '../../store/schema.js';
import { lastAssignment } from '../../store/transitions.js';
import { LocalLoop, LocalModeError, repositoryAt, type LoopEvent } from './loop.js';

/**
 * What Claude Code writes on a SubagentStop hook's stdin (Claude Code 2.1: the common fields,
 * then `agent_id`, `agent_type` — the subagent's name — and its own transcript). Every field is
 * optional here: the flags can stand in for all of them.
 */
export const subagentStopInput = z.looseObject({
  session_id: z.string().optional(),
  transcript_path: z.string().optional(),
  cwd: z.string().optional(),
  hook_event_name: z.string().optional(),
  stop_hook_active: z.boolean().optional(),
  agent_id: z.string().optional(),
  agent_type: z.string().optional(),
  agent_transcript_path: z.string().optional(),
  last_assistant_message: z.string().optional(),
});
export type SubagentStopInput = z.infer<typeof subagentStopInput>;

/** Pure: the hook's stdin; empty means no hook (a person ran the command). */
export function parseSubagentStop(text: string): SubagentStopInput | null {
  if (text.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LocalModeError('the hook input on stdin is not JSON: Claude Code sends one JSON object');
  }
  const parsed = subagentStopInput.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw new LocalModeError(`the hook input on stdin is not a SubagentStop input: ${where}`);
  }
  return parsed.data;
}

export interface EvaluationTarget {
  /** The local task's id (`bug-123`). */
  key: string;
  agent: string;
  /** Whether the agent was named by a flag, or only by the hook (then a subagent that is not ours is skipped). */
  agentFrom: 'flag' | 'hook';
}

/**
 * Pure: which task and agent an evaluation is for. Flags win (empty ones count as absent, as
 * the hook passes `"${DOOM_TASK_ID:-}"`); else the session names the task and the subagent's
 * name the agent.
 */
export function evaluationTarget(flags: { taskId?: string; agentName?: string }, input: SubagentStopInput | null): EvaluationTarget {
  const taskId = flags.taskId?.trim() || (input?.session_id ? `session-${input.session_id.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}` : '');
  const flagAgent = flags.agentName?.trim() ?? '';
  const agent = flagAgent || input?.agent_type?.trim() || '';
  if (taskId === '') throw new LocalModeError('no task id: give --task-id <id> (or set DOOM_TASK_ID for the hook), or pass the hook input on stdin');
  if (agent === '') throw new LocalModeError('no agent name: give --agent-name <name> (or set DOOM_AGENT_NAME), or pass the hook input on stdin');
  return { key: taskId, agent, agentFrom: flagAgent ? 'flag' : 'hook' };
}

export type EvaluationResult =
  | { kind: 'skipped'; reason: string }
  | { kind: 'unchanged'; reason: string }
  | { kind: 'evaluated'; task: TaskRow; reward: number | null; rewardKind: string | null };

type Core = Awaited<ReturnType<typeof openCore>>;

export interface EvaluateDeps {
  core: Core;
  loaded: LoadedConfig;
  databaseUrl: string;
  log: Logger;
}

const short = (s: string | undefined, n = 500) => (s === undefined ? undefined : s.length > n ? `${s.slice(0, n)}…` : s);

/** What the SubagentStop event keeps of the hook's input (the last message shortened). */
const hookFields = (input: SubagentStopInput | null) =>
  input === null
    ? { via: 'cli' }
    : {
        via: 'hook',
        session_id: input.session_id,
        agent_id: input.agent_id,
        agent_type: input.agent_type,
        stop_hook_active: input.stop_hook_active,
        transcript_path: input.transcript_path,
        agent_transcript_path: input.agent_transcript_path,
        last_assistant_message: short(input.last_assistant_message),
      };

/**
 * Evaluates the subagent's change in the repository at `target.repo` (or the hook's `cwd`):
 * the pool is brought in line with the config's agent files first, as `doom agents sync` does.
 */
export async function evaluateSubagent(
  deps: EvaluateDeps,
  target: EvaluationTarget & { repo?: string; type?: TaskType },
  input: SubagentStopInput | null,
  report: (e: LoopEvent) => void,
): Promise<EvaluationResult> {
  const { core, loaded, log } = deps;
  const db = core.store.db;
  const { root } = await repositoryAt(target.repo ?? input?.cwd ?? '.');
  await syncAgents(db, loaded.agents);
  const agent = await getAgent(db, target.agent);
  if (!agent || agent.active !== 1) {
    const reason = `${target.agent} is not one of doom-rlvr's agents: add ${resolve(loaded.agentsDir, `${target.agent}.yml`)} to score it`;
    if (target.agentFrom === 'hook') return { kind: 'skipped', reason };
    throw new LocalModeError(reason);
  }
  const fields = hookFields(input);
  const record = (payload: Record<string, unknown>, failed: boolean, task?: TaskRow, runId?: number | null) =>
    recordHookEvents(db, [{ type: 'SubagentStop', taskId: task?.id ?? null, runId: runId ?? null, agentName: target.agent, payload: { task_key: target.key, ...fields, ...payload }, failed }]);

  const change = await workingTreeChange(root);
  if (!change) {
    const reason = `the working tree of ${root} has no change against HEAD: nothing to evaluate`;
    await record({ evaluated: false, reason }, false);
    return { kind: 'unchanged', reason };
  }
  let task: TaskRow | undefined;
  try {
    const transcript = input?.agent_transcript_path ? await readFile(input.agent_transcript_path, 'utf8').catch(() => '') : '';
    const own = { runId: null as number | null, runner: new WorkingTreeRunner({ patch: change.patch, transcript, summary: input?.last_assistant_message }) };
    const loop = loopFor(deps, own);
    const type = target.type ?? firstSpecialization(agent.specializations);
    task = await taskFor(loop, { repo: root, key: target.key, agent: target.agent, type });
    own.runId = (await lastAssignment(db, task.id))?.id ?? null;
    const done = await loop.run(task.id, report);
    task = done;
    // This attempt's reward: an earlier attempt of the same task keeps its own.
    const runId = own.runId;
    const reward = runId === null ? undefined : await rewardOfAttempt(db, { taskId: done.id, assignmentId: runId, agentName: target.agent });
    const outcome = { evaluated: reward !== undefined, base: change.base, files: change.files, branch: done.branch, commit: done.head_sha, status: done.status, reward: reward?.reward ?? null, reward_kind: reward?.kind ?? null };
    await record(outcome, reward === undefined, done, runId);
    return { kind: 'evaluated', task: done, reward: reward?.reward ?? null, rewardKind: reward?.kind ?? null };
  } catch (error) {
    await record({ evaluated: false, error: error instanceof Error ? error.message : String(error) }, true, task).catch((e: unknown) => log.warn({ err: e }, 'SubagentStop not recorded'));
    throw error;
  }
}

function firstSpecialization(json: string): TaskType {
  const list = JSON.parse(json) as unknown[];
  return taskType.parse(list[0]);
}

const noChange: Runner = {
  kind: 'working-tree',
  run: async () => ({ outcome: 'failed', usage: emptyUsage(), transcript: '', error: "doom evaluate runs only the change of the subagent that stopped: this run's change is gone" }),
};

/** `own.runId` is the subagent's run. */
function loopFor(deps: EvaluateDeps, own: { runId: number | null; runner: WorkingTreeRunner }): LocalLoop {
  const { core, loaded, log, databaseUrl } = deps;
  const { config } = loaded;
  const executor = withHookEvents(
    new LocalExecutor({
      mirrorDir: resolve(config.executor.mirror_dir),
      workspaceDir: resolve(config.executor.workspace_dir),
      mirrorDiskBudgetBytes: config.executor.mirror_disk_budget_mb * 1024 * 1024,
      capacity: 1,
      sandbox: { hidden: botPlaces(databaseUrl, loaded) },
      // The agent has already run: its run is the subagent's change. Any other run found due
      // (one an interrupted evaluation left) has no change to carry, and starts no agent.
      runnerFor: (_runner, _permissions, _sandbox, request) => (request.runId === own.runId ? own.runner : noChange),
    }),
    core.store.db,
    log,
  );
  return new LocalLoop({ core, config, log, executor });
}

/**
 * The task `key` names, forced onto the subagent: created the first time, another attempt
 * after that (a new branch once the earlier one was merged or closed).
 */
async function taskFor(loop: LocalLoop, input: { repo: string; key: string; agent: string; type: TaskType }): Promise<TaskRow> {
  const { task: found, created } = await loop.createTask({
    repo: input.repo,
    key: input.key,
    type: input.type,
    title: `${input.key}: ${input.agent}'s change`,
    description: `The change subagent ${input.agent} made in a Claude Code session, scored by doom evaluate.`,
    forceAgent: input.agent,
  });
  let task = found;
  if (!created && (task.status === 'completed' || task.status === 'failed')) task = await loop.again(task.id);
  if (task.status === 'failed') throw new LocalModeError(`task ${input.key} was rejected: ${task.error_message ?? 'invalid'}`);
  if (task.status !== 'assigned') throw new LocalModeError(`task ${input.key} is ${task.status}${task.pending_reason ? ` (${task.pending_reason})` : ''}: it cannot take the subagent's change now`);
  if (task.assigned_agent !== input.agent) {
    throw new LocalModeError(`task ${input.key} belongs to ${task.assigned_agent ?? 'another agent'}: give ${input.agent}'s work its own --task-id`);
  }
  return task;
}
