/**
 * Budgets fail closed: before every model-driven step the engine asks what is left, for the
 * phase and for the task, in tokens, dollars and wall time; a step that would start with
 * nothing left does not start. Pure: spent and limits in, an allowance or a refusal out.
 *
 * ```ts
 * const allowance = allowanceFor(policy.budget.phases.implement, policy.budget.total, state.budget.spent, phaseSpent);
 * const step = stepLimits(allowance, { maxTokens: task.maxTokens, timeoutMs: task.timeoutMs });
 * if (step.kind === 'refused') stopPhase(step.reason);
 * ```
 */
import type { Budget } from './schemas.js';

export const zeroBudget = (): Budget => ({ tokens: 0, usd: 0, wall_ms: 0 });

export const addBudget = (a: Budget, b: Budget): Budget => ({ tokens: a.tokens + b.tokens, usd: a.usd + b.usd, wall_ms: a.wall_ms + b.wall_ms });

const left = (limit: Budget, spent: Budget): Budget => ({
  tokens: Math.max(0, limit.tokens - spent.tokens),
  usd: Math.max(0, limit.usd - spent.usd),
  wall_ms: Math.max(0, limit.wall_ms - spent.wall_ms),
});

const min = (a: Budget, b: Budget): Budget => ({ tokens: Math.min(a.tokens, b.tokens), usd: Math.min(a.usd, b.usd), wall_ms: Math.min(a.wall_ms, b.wall_ms) });

/**
 * What a phase may still spend: its own budget less what it spent, and never more than what
 * is left of the task's total. A phase without a budget of its own may use the rest of the total.
 */
export function allowanceFor(phase: Budget | undefined, total: Budget, taskSpent: Budget, phaseSpent: Budget): Budget {
  const ofTask = left(total, taskSpent);
  return phase ? min(left(phase, phaseSpent), ofTask) : ofTask;
}

export type StepLimits =
  | { kind: 'go'; maxTokens: number; maxUsd: number; timeoutMs: number }
  | { kind: 'refused'; reason: string };

/**
 * The limits of one model step: the allowance, capped by the task's own per-run constraints.
 * Refused when any unit is used up (a step that cannot be bounded does not start).
 */
export function stepLimits(allowance: Budget, caps: { maxTokens: number; timeoutMs: number }, share = 1): StepLimits {
  const empty = (['tokens', 'usd', 'wall_ms'] as const).filter((u) => allowance[u] <= 0);
  if (empty.length > 0) return { kind: 'refused', reason: `no ${empty.join(', ')} left in the budget` };
  const part = Math.max(1, share);
  return {
    kind: 'go',
    maxTokens: Math.max(1, Math.min(caps.maxTokens, Math.floor(allowance.tokens / part))),
    maxUsd: allowance.usd / part,
    timeoutMs: Math.max(1, Math.min(caps.timeoutMs, Math.floor(allowance.wall_ms / part))),
  };
}

/** Whether a step's spend passed its limits: the dollar limit is checked after the fact for runners that cannot enforce it. */
export function overLimits(spent: { tokens: number; usd: number }, limits: { maxTokens: number; maxUsd: number }): 'token_limit' | null {
  return spent.tokens > limits.maxTokens || spent.usd > limits.maxUsd + 1e-9 ? 'token_limit' : null;
}
