import { describe, expect, it } from 'vitest';
import { clusterPatches, diffLines, needsRerun, normalizePatch, pairwiseOutcomes, patchHash, selectCandidate, suiteVerdict, type Selectable } from '../../src/pipeline/select.js';
import { Rubric, type Checks } from '../../src/pipeline/schemas.js';

const rubric = Rubric.parse({});
const checks = (c: Partial<Checks> = {}): Checks => ({ guards: 'pass', oracle: 'pass', suite: 'pass', lint: 'pass', notes: {}, ...c });
const cand = (index: number, agent: string, c: Checks | null, diff = 4, cost = 0.01, commit: string | null = `sha${index}`): Selectable => ({
  index,
  agent,
  commit,
  checks: c,
  diffLines: diff,
  costUsd: cost,
});

const patch = (body: string) => `diff --git a/src/math.js b/src/math.js\nindex 1111111..2222222 100644\n--- a/src/math.js\n+++ b/src/math.js\n@@ -1,3 +1,3 @@\n export function add(a, b) {\n${body}\n }\n`;

describe('normalizePatch and clustering', () => {
  it.each([
    ['the same patch', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+  return a + b;'), true],
    ['other index lines and hunk positions', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+  return a + b;').replace('index 1111111..2222222', 'index 3333333..4444444').replace('@@ -1,3 +1,3 @@', '@@ -10,3 +10,3 @@ export'), true],
    ['inner and trailing white space', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+    return  a +  b;   '), true],
    ['a trailing newline marker and blank lines', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+  return a + b;\n+\n\\ No newline at end of file'), true],
    ['CRLF line ends', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+  return a + b;').replace(/\n/g, '\r\n'), true],
    ['another change', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+  return Math.abs(a - b);'), false],
    ['the same lines in another file', patch('-  return a - b;\n+  return a + b;'), patch('-  return a - b;\n+  return a + b;').replace(/src\/math\.js/g, 'src/other.js'), false],
  ])('%s: alike = %s', (_name, a, b, alike) => {
    expect(normalizePatch(a) === normalizePatch(b)).toBe(alike);
    expect(patchHash(a) === patchHash(b)).toBe(alike);
  });

  it('clusters patches that normalize alike under the first one', () => {
    const a = patch('-  return a - b;\n+  return a + b;');
    const b = patch('-  return a - b;\n+  return Math.abs(a - b);');
    expect(clusterPatches([a, b, a.replace('a + b', 'a  +  b'), null, b])).toEqual([0, 1, 0, null, 1]);
  });

  it('counts added and removed lines only', () => {
    expect(diffLines(patch('-  return a - b;\n+  return a + b;'))).toBe(2);
  });
});

describe('selectCandidate', () => {
  // With oracle and suite critical (the default) they fall under the first step; as warnings they rank on their own.
  const warnings = Rubric.parse({ gates: { oracle: 'warn', suite: 'warn' } });
  it.each<[string, Selectable[], number | null, boolean, RegExp, Rubric?]>([
    ['critical gates first, even against a smaller diff', [cand(0, 'a', checks({ guards: 'fail' }), 1), cand(1, 'b', checks(), 9)], 1, true, /critical gates.*guards/],
    ['a critical oracle is a critical gate', [cand(0, 'a', checks({ oracle: 'fail' }), 1), cand(1, 'b', checks(), 9)], 1, true, /critical gates.*\(oracle\)/],
    ['then the oracle', [cand(0, 'a', checks({ oracle: 'fail' }), 1), cand(1, 'b', checks(), 9)], 1, true, /oracle test passes/, warnings],
    ['then the suite', [cand(0, 'a', checks({ suite: 'fail' }), 1), cand(1, 'b', checks(), 9)], 1, true, /suite is no worse/, warnings],
    ['then lint (a warning gate ranks, it does not exclude)', [cand(0, 'a', checks({ lint: 'fail' }), 1), cand(1, 'b', checks(), 9)], 1, true, /lint passes/],
    ['then the smaller diff', [cand(0, 'a', checks(), 9), cand(1, 'b', checks(), 3)], 1, true, /smaller \(3 lines against 9/],
    ['then the cheaper', [cand(0, 'a', checks(), 3, 0.5), cand(1, 'b', checks(), 3, 0.1)], 1, true, /cost less/],
    ['the earlier of two alike', [cand(0, 'a', checks()), cand(1, 'b', checks())], 0, true, /the same patch, made earlier/],
    ['a flaky suite is not held against a candidate', [cand(0, 'a', checks({ suite: 'flaky' }), 2), cand(1, 'b', checks(), 9)], 0, true, /smaller/],
    ['a lint failure alone still passes', [cand(0, 'a', checks({ lint: 'fail' }))], 0, true, /only candidate/],
    ['among failing candidates the order still ranks, and the best is not passing', [cand(0, 'a', checks({ oracle: 'fail' })), cand(1, 'b', checks({ guards: 'fail' }))], 1, false, /#2 is the best there is but does not pass guards/],
    ['candidates without a commit or checks are not chosen', [cand(0, 'a', checks(), 1, 0, null), cand(1, 'b', null)], null, false, /no candidate/],
  ])('%s', (_name, candidates, winner, passing, reason, r = rubric) => {
    const s = selectCandidate(candidates, r);
    expect(s.winner).toBe(winner);
    expect(s.passing).toBe(passing);
    expect(s.reasons.join('\n')).toMatch(reason);
  });

  it('leaves a gate the rubric turns off out of the order', () => {
    const noLint = Rubric.parse({ gates: { lint: 'off' } });
    const s = selectCandidate([cand(0, 'a', checks({ lint: 'fail' }), 1), cand(1, 'b', checks(), 9)], noLint);
    expect(s.winner).toBe(0);
  });

  it('turns a warning gate into an excluding one when the rubric calls it critical', () => {
    const strict = Rubric.parse({ gates: { lint: 'critical' } });
    expect(selectCandidate([cand(0, 'a', checks({ lint: 'fail' }))], strict).passing).toBe(false);
  });
});

describe('pairwiseOutcomes', () => {
  it('records every pair of different agents with the deciding step, and no ties or same-agent pairs', () => {
    const pairs = pairwiseOutcomes(
      [cand(0, 'good', checks(), 2), cand(1, 'wrong', checks({ oracle: 'fail' }), 2), cand(2, 'hacker', checks({ guards: 'fail' }), 2), cand(3, 'good', checks(), 2), cand(4, 'twin', checks(), 2)],
      rubric,
    );
    expect(pairs).toEqual([
      { winner: 0, loser: 1, winner_agent: 'good', loser_agent: 'wrong', reason: 'critical gates' },
      { winner: 0, loser: 2, winner_agent: 'good', loser_agent: 'hacker', reason: 'critical gates' },
      // Both fail a critical gate; the next step, the oracle, decides.
      { winner: 2, loser: 1, winner_agent: 'hacker', loser_agent: 'wrong', reason: 'oracle' },
      { winner: 3, loser: 1, winner_agent: 'good', loser_agent: 'wrong', reason: 'critical gates' },
      { winner: 4, loser: 1, winner_agent: 'twin', loser_agent: 'wrong', reason: 'critical gates' },
      { winner: 3, loser: 2, winner_agent: 'good', loser_agent: 'hacker', reason: 'critical gates' },
      { winner: 4, loser: 2, winner_agent: 'twin', loser_agent: 'hacker', reason: 'critical gates' },
    ].sort(byPair));
  });
});

const byPair = (a: { winner: number; loser: number }, b: { winner: number; loser: number }) => Math.min(a.winner, a.loser) - Math.min(b.winner, b.loser) || Math.max(a.winner, a.loser) - Math.max(b.winner, b.loser);

describe('suiteVerdict', () => {
  const run = (ok: boolean, fails: number | null = ok ? 0 : 1) => ({ ok, fails });
  it.each([
    ['passes where the base passes', run(true), run(true), null, 'pass', false],
    ['fails where the base passes, and the base passes again', run(false), run(true), { ok: true }, 'fail', true],
    ['flaky when the base flips on the re-run', run(false), run(true), { ok: false }, 'flaky', true],
    ['passes where the base fails (the fix), the base failing again', run(true), run(false), { ok: false }, 'pass', true],
    ['both failing, no more failures than the base: no worse', run(false, 2), run(false, 2), null, 'pass', false],
    ['both failing, more failures than the base: worse', run(false, 3), run(false, 2), null, 'fail', false],
    ['both failing, counts unknown: no worse', run(false, null), run(false, 2), null, 'pass', false],
  ] as const)('%s', (_name, mine, base, rerun, verdict, rerunNeeded) => {
    expect(needsRerun(mine, base)).toBe(rerunNeeded);
    expect(suiteVerdict(mine, base, rerun)).toBe(verdict);
  });
});
