/**
 * The seed's recovery rules as a pure decision: a timeout goes to the next tier up, a token
 * limit to a principal, anything else fails the task. Escalations are bounded.
 */
import type { AssignableTier, Tier } from '../config/schema.js';
import type { RunOutcome } from '../runners/runner.js';
import { nextTierUp } from '../routing/router.js';

export type Recovery =
  | { kind: 'complete' }
  | { kind: 'escalate'; minTier: AssignableTier; reason: string }
  | { kind: 'fail'; error: string };

export interface RecoveryInput {
  outcome: RunOutcome;
  error?: string;
  agentTier: Tier;
  /** Escalations this task already had. */
  escalations: number;
  maxEscalations: number;
  /** A successful run that changed nothing has nothing to publish. */
  changed: boolean;
  /** A person stopped the run to escalate it (`/doom escalate`): the floor they asked for. */
  escalationRequested?: AssignableTier | null;
}

export function decideRecovery(input: RecoveryInput): Recovery {
  const { outcome, escalations, maxEscalations } = input;
  if (outcome === 'success') {
    return input.changed ? { kind: 'complete' } : { kind: 'fail', error: 'the agent finished without changing any file' };
  }
  if (outcome === 'cancelled') {
    // Asked for by a person: not bounded by max_escalations, which guards automatic ones.
    if (input.escalationRequested) return { kind: 'escalate', minTier: input.escalationRequested, reason: `stopped and escalated to ${input.escalationRequested} by a person` };
    return { kind: 'fail', error: 'cancelled by an operator' };
  }
  if (outcome === 'timeout' || outcome === 'token_limit') {
    const what = outcome === 'timeout' ? 'timed out' : 'ran out of tokens';
    if (escalations >= maxEscalations) {
      return { kind: 'fail', error: `the agent ${what} and the task already had ${escalations} escalation(s), the most allowed` };
    }
    // Escalation means a stronger agent: a principal that fails has nobody above it.
    const target = input.agentTier === 'principal' ? null : outcome === 'token_limit' ? 'principal' : nextTierUp(input.agentTier);
    if (!target) return { kind: 'fail', error: `the agent ${what} and no tier is above ${input.agentTier}` };
    return { kind: 'escalate', minTier: target, reason: `a ${input.agentTier} agent ${what}: escalated to ${target}` };
  }
  return { kind: 'fail', error: input.error?.trim() || 'the agent failed without saying why' };
}
