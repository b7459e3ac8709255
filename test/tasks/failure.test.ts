import { describe, expect, it } from 'vitest';
import { detailsHint, publicFailureReason, type FailureInput } from '../../src/tasks/failure.js';

const raw = "git fetch failed: fatal: unable to access 'https://gitlab.internal.example:8443/acme/shop.git/': /srv/doom/data/mirrors/x: Permission denied";

describe('publicFailureReason', () => {
  it.each<[string, FailureInput, string]>([
    ['a timeout past the escalations', { outcome: 'timeout', decided: 'the agent timed out and the task already had 2 escalation(s), the most allowed' }, 'the agent timed out and the task already had 2 escalation(s), the most allowed'],
    ['a token limit at the top', { outcome: 'token_limit', decided: 'the agent ran out of tokens and no tier is above principal' }, 'the agent ran out of tokens and no tier is above principal'],
    ['a cancellation', { outcome: 'cancelled', decided: 'cancelled by an operator' }, 'cancelled by an operator'],
    ['nothing changed', { outcome: 'success', decided: 'the agent finished without changing any file' }, 'the agent finished without changing any file'],
    ['the agent exited with an error', { outcome: 'failed', failure: { stage: 'agent' }, error: 'claude exited with 1: /home/bot/.npm/x', decided: raw }, 'the agent failed'],
    ['the sandbox did not start', { outcome: 'failed', failure: { stage: 'agent' }, error: 'permissions.sandbox is bwrap but bubblewrap does not work here', decided: raw }, "the agent's sandbox could not start"],
    ['the fetch failed', { outcome: 'failed', failure: { stage: 'workspace' }, error: raw, decided: raw }, 'the repository could not be fetched or checked out'],
    ['the push failed', { outcome: 'failed', failure: { stage: 'publish' }, error: raw, decided: raw }, 'the change could not be committed or pushed'],
    ['a protected path refused', { outcome: 'failed', failure: { stage: 'guard', files: ['.github/workflows/ci.yml', 'codecov.yml'] }, decided: raw }, 'the agent changed protected files (`.github/workflows/ci.yml`, `codecov.yml`), so nothing was pushed'],
    ['an unknown failure', { outcome: 'failed', error: raw, decided: raw }, 'the run failed'],
  ])('%s', (_, input, expected) => {
    const reason = publicFailureReason(input);
    expect(reason).toBe(expected);
    expect(reason).not.toMatch(/internal|\/srv|\/home|git fetch/);
  });

  it('quotes file names and keeps their hidden characters and backticks out', () => {
    const files = ['a`b.yml', '.github/workflows/\u202Eci.yml', ...Array.from({ length: 12 }, (_, i) => `f${i}`)];
    const reason = publicFailureReason({ outcome: 'failed', failure: { stage: 'guard', files }, decided: '' });
    expect(reason).toContain("`a'b.yml`, `.github/workflows/ci.yml`");
    expect(reason).toContain('and 4 more');
    expect(reason).not.toContain('\u202E');
  });

  it('points operators to the log command', () => {
    expect(detailsHint(12)).toBe("Details for the bot's operators: `doom logs --task 12`.");
  });
});
