/** Manual reward entry (the seed's phase 1): an operator scores a task by hand. */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import { getAgent } from '../store/agents.js';
import { audit } from '../store/audit.js';
import { latestAttemptOf } from '../store/assignments.js';
import { saveAttemptReward } from '../store/rewards.js';
import type { Database, RewardRow } from '../store/schema.js';
import { getTask } from '../store/tasks.js';
import type { EventSink } from '../events.js';
import { announceTierChanges, recomputeAgent } from '../tiers/service.js';
import { componentNames, computeReward, EVALUATOR_VERSION, type ComponentName, type RewardComponents } from './formula.js';
import { ExpectedError } from '../errors.js';

export class RewardError extends ExpectedError {}

/** Parses `name=value` pairs; every component must be given exactly once. */
export function parseComponentArgs(pairs: readonly string[]): RewardComponents {
  const values: Partial<Record<ComponentName, number>> = {};
  for (const pair of pairs) {
    const match = /^([a-z_]+)=(.+)$/.exec(pair);
    if (!match) throw new RewardError(`--component "${pair}": expected name=value`);
    const [, name, raw] = match as unknown as [string, string, string];
    if (!componentNames.includes(name as ComponentName)) {
      throw new RewardError(`--component "${pair}": unknown component "${name}" (expected one of ${componentNames.join(', ')})`);
    }
    if (values[name as ComponentName] !== undefined) throw new RewardError(`--component ${name} given twice`);
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) throw new RewardError(`--component "${pair}": "${raw}" is not a number`);
    values[name as ComponentName] = value;
  }
  const missing = componentNames.filter((n) => values[n] === undefined);
  if (missing.length > 0) throw new RewardError(`missing --component for: ${missing.join(', ')}`);
  return values as RewardComponents;
}

export async function recordManualReward(
  db: Kysely<Database>,
  config: Config,
  input: { taskId: number; agent: string; components: RewardComponents; actor: string },
  events: EventSink,
): Promise<{ reward: RewardRow; tier: string; tierChanged: boolean }> {
  const started = performance.now();
  if (!(await getTask(db, input.taskId))) throw new RewardError(`task ${input.taskId} does not exist`);
  if (!(await getAgent(db, input.agent))) throw new RewardError(`agent "${input.agent}" does not exist`);
  let value: number;
  try {
    value = computeReward(input.components, config.evaluator.weights);
  } catch (error) {
    throw new RewardError((error as Error).message);
  }
  // The operator scores the agent's newest attempt of the task (or the task itself, when the
  // agent never attempted it). A settled reward is final: it is not replaced.
  const attempt = await latestAttemptOf(db, input.taskId, input.agent);
  const saved = await saveAttemptReward(
    db,
    { taskId: input.taskId, assignmentId: attempt?.id ?? null, agentName: input.agent },
    {
      reward: value,
      components: { ...input.components },
      weights: { ...config.evaluator.weights },
      evaluatorVersion: EVALUATOR_VERSION,
      hookDurationMs: performance.now() - started,
      kind: 'manual',
      degraded: false,
      mrNumber: null,
      mrState: null,
    },
  );
  if (saved.decision.kind === 'settled' || !saved.row) {
    const standing = saved.previous!;
    throw new RewardError(
      `task ${input.taskId} already has a ${standing.kind} reward ${standing.reward.toFixed(2)} for ${input.agent}${attempt ? ` (attempt ${attempt.id})` : ''}; a settled reward is not replaced`,
    );
  }
  const reward = saved.row;
  await audit(db, {
    event: 'reward.recorded',
    actor: input.actor,
    taskId: input.taskId,
    agentName: input.agent,
    data: { reward: value, kind: 'manual', components: input.components },
  });
  const { agent, changed, from } = await recomputeAgent(db, config, input.agent, 'manual-reward', input.actor);
  if (changed) await announceTierChanges(events, [{ name: agent.name, from, to: agent.tier }], { source: 'manual-reward', actor: input.actor });
  return { reward, tier: agent.tier, tierChanged: changed };
}
