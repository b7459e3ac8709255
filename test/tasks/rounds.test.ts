import { describe, expect, it } from 'vitest';
import { splitFailures } from '../../src/tasks/ci-fixes.js';
import { decideRound, readRoundInput, type RoundState } from '../../src/tasks/rounds.js';
import { capText, inheritedText, roundDoneText } from '../../src/tasks/round-reply.js';

const state = (over: Partial<RoundState> = {}): RoundState => ({
  kind: 'revision',
  taskStatus: 'completed',
  agentTier: 'senior',
  rounds: 0,
  maxRounds: 3,
  duplicate: false,
  hasMergeRequest: true,
  ...over,
});

describe('decideRound', () => {
  it.each([
    ['the first round', state(), { kind: 'start', round: 1 }],
    ['the last round the cap allows', state({ rounds: 2 }), { kind: 'start', round: 3 }],
    ['past the cap', state({ rounds: 3 }), { kind: 'capped', rounds: 3 }],
    ['a cap of zero turns the loop off', state({ maxRounds: 0 }), { kind: 'capped', rounds: 0 }],
    ['a trigger that already started one, even past the cap', state({ duplicate: true, rounds: 9 }), { kind: 'duplicate' }],
    ['a run under way: one at a time', state({ taskStatus: 'in_progress' }), { kind: 'busy', why: 'the task is in progress: one run at a time' }],
    ['an assigned run waits its turn', state({ taskStatus: 'assigned' }), { kind: 'busy', why: 'the task is assigned: one run at a time' }],
    ['publishing', state({ taskStatus: 'publishing' }), { kind: 'busy', why: 'the task is publishing: one run at a time' }],
    ['no merge request', state({ hasMergeRequest: false }), { kind: 'refuse', why: 'the task has no merge request yet' }],
    ['a failed task', state({ taskStatus: 'failed' }), { kind: 'refuse', why: expect.stringContaining('new attempt') }],
    ['a suspended agent', state({ agentTier: 'suspended' }), { kind: 'refuse', why: "the merge request's agent is suspended" }],
  ])('%s', (_what, input, expected) => {
    expect(decideRound(input)).toEqual(expected);
  });

  it('the cap counts per kind: CI fixes do not use up revision rounds (the caller counts by kind)', () => {
    expect(decideRound(state({ kind: 'ci_fix', rounds: 1, maxRounds: 2 }))).toEqual({ kind: 'start', round: 2 });
    expect(decideRound(state({ kind: 'ci_fix', rounds: 2, maxRounds: 2 }))).toEqual({ kind: 'capped', rounds: 2 });
  });
});

describe('splitFailures', () => {
  it('splits by job name against the target branch', () => {
    expect(splitFailures(['test', 'lint', 'test'], ['lint', 'deploy'])).toEqual({ own: ['test'], inherited: ['lint'] });
    expect(splitFailures(['test'], [])).toEqual({ own: ['test'], inherited: [] });
    expect(splitFailures(['test'], ['test'])).toEqual({ own: [], inherited: ['test'] });
  });
});

describe('readRoundInput', () => {
  it('reads what was stored and survives a row it cannot read', () => {
    const stored = { requestedBy: "@alice's review", comments: [{ author: 'alice', body: 'x', path: 'a.ts', line: 3 }], job: null, inheritedJobs: [] };
    expect(readRoundInput(JSON.stringify(stored))).toEqual(stored);
    expect(readRoundInput('{"comments": 3}')).toMatchObject({ comments: [], job: null });
    expect(readRoundInput(null).comments).toEqual([]);
  });
});

describe('round replies', () => {
  const view = { kind: 'revision' as const, round: 2, maxRounds: 3, agent: 'agent-a', requestedBy: "@alice's review" };

  it('says which commit the round pushed on top of which, and its files, quoted', () => {
    const text = roundDoneText({ ...view, sha: 'b'.repeat(40), baseSha: 'a'.repeat(40), files: ['src/a.ts', 'evil`name'], summary: 'Renamed it.\nAnd tested.' });
    expect(text).toContain('**Revision round 2 of 3** (@alice\'s review): `agent-a` pushed a follow-up commit bbbbbbb on top of aaaaaaa.');
    expect(text).toContain("- `evil'name`");
    expect(text).toContain('> Renamed it.\n> And tested.');
  });

  it('names the cap and its config key, and what is not the change\'s doing', () => {
    expect(capText('ci_fix', 2, 2)).toContain('`[ci_fix] max_rounds` (2)');
    expect(capText('revision', 3, 3)).toContain('`[review] max_rounds` (3)');
    expect(inheritedText({ jobs: ['test', 'lint'], targetBranch: 'main', targetPipeline: 9 })).toContain('`test`, `lint`, which also fail in the latest pipeline of `main` (9)');
  });
});
