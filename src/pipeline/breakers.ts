/**
 * Circuit breakers, pure. An agent whose last N pipeline runs all failed is skipped until a
 * cool-down after its last failure has passed; a model-API error (overloaded, rate limited, a
 * 5xx from the API) pauses new candidates for a while, whoever's they are: the next agent
 * would most likely meet the same API.
 *
 * ```ts
 * const b = agentBreaker(await recentRuns(db, 'agent-a', 3), config.pipeline.breakers, Date.now());
 * if (b.open) skip('agent-a', b.reason);
 * ```
 */
export interface PastRun {
  /** Whether the run succeeded and passed its critical gates. */
  passed: boolean;
  error: string | null;
  /** ISO time the run ended. */
  at: string;
}

export interface BreakerRules {
  failures_in_a_row: number;
  cooldown_ms: number;
  model_api_pause_ms: number;
}

export type Breaker = { open: false } | { open: true; until: string; reason: string };

/** `recent`: the agent's runs, newest first. */
export function agentBreaker(recent: readonly PastRun[], rules: BreakerRules, now: number): Breaker {
  const streak = recent.slice(0, rules.failures_in_a_row);
  if (streak.length < rules.failures_in_a_row || streak.some((r) => r.passed)) return { open: false };
  const until = Date.parse(streak[0]!.at) + rules.cooldown_ms;
  if (until <= now) return { open: false };
  return { open: true, until: new Date(until).toISOString(), reason: `failed its last ${rules.failures_in_a_row} runs in a row` };
}

const modelApiError = /\b(?:overloaded(?:_error)?|rate[ _-]?limit(?:ed|_error)?|api_error|API Error: 5\d\d|status(?: code)? 5\d\d|529)\b/i;

export const isModelApiError = (error: string | null): boolean => error !== null && modelApiError.test(error);

/** `recent`: every agent's runs, newest first. */
export function modelApiBreaker(recent: readonly PastRun[], rules: BreakerRules, now: number): Breaker {
  const last = recent.find((r) => isModelApiError(r.error));
  if (!last) return { open: false };
  const until = Date.parse(last.at) + rules.model_api_pause_ms;
  return until > now ? { open: true, until: new Date(until).toISOString(), reason: 'the model API failed (overloaded, rate limited or a server error)' } : { open: false };
}
