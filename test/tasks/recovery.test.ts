import { describe, expect, it } from 'vitest';
import { decideRecovery } from '../../src/tasks/recovery.js';

const base = { escalations: 0, maxEscalations: 2, changed: true } as const;

describe('decideRecovery', () => {
  it('completes a successful run that changed something, fails one that changed nothing', () => {
    expect(decideRecovery({ ...base, outcome: 'success', agentTier: 'junior' })).toEqual({ kind: 'complete' });
    expect(decideRecovery({ ...base, outcome: 'success', agentTier: 'junior', changed: false })).toEqual({
      kind: 'fail',
      error: 'the agent finished without changing any file',
    });
  });

  it('sends a timeout one tier up and a token limit to a principal', () => {
    expect(decideRecovery({ ...base, outcome: 'timeout', agentTier: 'junior' })).toMatchObject({ kind: 'escalate', minTier: 'senior' });
    expect(decideRecovery({ ...base, outcome: 'timeout', agentTier: 'senior' })).toMatchObject({ kind: 'escalate', minTier: 'principal' });
    expect(decideRecovery({ ...base, outcome: 'token_limit', agentTier: 'junior' })).toEqual({
      kind: 'escalate',
      minTier: 'principal',
      reason: 'a junior agent ran out of tokens: escalated to principal',
    });
  });

  it('fails when a principal fails, or when escalations are used up', () => {
    expect(decideRecovery({ ...base, outcome: 'timeout', agentTier: 'principal' })).toEqual({
      kind: 'fail',
      error: 'the agent timed out and no tier is above principal',
    });
    expect(decideRecovery({ ...base, outcome: 'token_limit', agentTier: 'principal' })).toMatchObject({ kind: 'fail' });
    expect(decideRecovery({ ...base, outcome: 'timeout', agentTier: 'junior', escalations: 2 })).toEqual({
      kind: 'fail',
      error: 'the agent timed out and the task already had 2 escalation(s), the most allowed',
    });
  });

  it('fails other outcomes with the agent error, and cancellations as such', () => {
    expect(decideRecovery({ ...base, outcome: 'failed', agentTier: 'senior', error: ' git apply exited with 1 ' })).toEqual({
      kind: 'fail',
      error: 'git apply exited with 1',
    });
    expect(decideRecovery({ ...base, outcome: 'failed', agentTier: 'senior' })).toEqual({ kind: 'fail', error: 'the agent failed without saying why' });
    expect(decideRecovery({ ...base, outcome: 'cancelled', agentTier: 'senior' })).toEqual({ kind: 'fail', error: 'cancelled by an operator' });
    // Stopped by `/doom escalate`: escalated to the floor asked for, however many escalations came before.
    expect(decideRecovery({ ...base, escalations: 2, outcome: 'cancelled', agentTier: 'senior', escalationRequested: 'principal' })).toEqual({
      kind: 'escalate',
      minTier: 'principal',
      reason: 'stopped and escalated to principal by a person',
    });
    // Only a stopped run: one that ended on its own first is decided on its outcome.
    expect(decideRecovery({ ...base, outcome: 'success', agentTier: 'senior', escalationRequested: 'principal' })).toEqual({ kind: 'complete' });
  });
});
