/**
 * Review and selection, pure. Patches are normalized (whitespace, formatting, trailing
 * newlines, positions) so that the same change written twice counts once; identical ones form
 * a cluster. Then the candidates are ranked, in this order: the critical gates pass, the
 * oracle passes, the suite is no worse than on the base commit, lint passes, the diff is
 * smaller (then cheaper, then earlier). The winner is the first; each pair of candidates from
 * different agents is head-to-head evidence, decided by the first step where they differ.
 *
 * ```ts
 * const clusters = clusterPatches(candidates.map((c) => c.patch));
 * const choice = selectCandidate(candidates, rubric);
 * if (choice.winner !== null && choice.passing) merge(choice.winner);
 * ```
 */
import { createHash } from 'node:crypto';
import type { CheckVerdict, Checks, GateLevel, GateName, PairOutcome, Rubric } from './schemas.js';

/**
 * A patch reduced to what it changes: `diff --git`/`index`/mode lines and hunk positions go,
 * every changed line is trimmed and its inner white space collapsed, blank changed lines and
 * "\ No newline at end of file" markers go, and context lines go (they differ with how many a
 * tool prints, not with the change).
 */
export function normalizePatch(patch: string): string {
  const out: string[] = [];
  for (const raw of patch.replace(/\r\n/g, '\n').split('\n')) {
    if (/^(?:index |old mode |new mode |similarity index |dissimilarity index |\\ No newline)/.test(raw)) continue;
    if (raw.startsWith('diff --git ')) continue;
    if (raw.startsWith('@@')) {
      out.push('@@');
      continue;
    }
    if (raw.startsWith('+++ ') || raw.startsWith('--- ')) {
      out.push(raw.replace(/\s+$/, ''));
      continue;
    }
    const sign = raw[0];
    if (sign !== '+' && sign !== '-') continue;
    const body = raw.slice(1).trim().replace(/\s+/g, ' ');
    if (body === '') continue;
    out.push(`${sign}${body}`);
  }
  // Hunk marks with nothing left between them say nothing either.
  return out.filter((l, i) => l !== '@@' || (out[i + 1] !== undefined && out[i + 1] !== '@@' && !out[i + 1]!.startsWith('--- '))).join('\n');
}

export const patchHash = (patch: string): string => createHash('sha256').update(normalizePatch(patch)).digest('hex').slice(0, 16);

/** Lines a patch adds or removes (headers excluded): the "diff size" of selection. */
export function diffLines(patch: string): number {
  return patch.split('\n').filter((l) => (l.startsWith('+') && !l.startsWith('+++ ')) || (l.startsWith('-') && !l.startsWith('--- '))).length;
}

/** Cluster number per patch: patches that normalize alike share the number of the first of them. */
export function clusterPatches(patches: readonly (string | null)[]): (number | null)[] {
  const first = new Map<string, number>();
  return patches.map((p, i) => {
    if (p === null) return null;
    const h = patchHash(p);
    if (!first.has(h)) first.set(h, i);
    return first.get(h)!;
  });
}

export interface Selectable {
  index: number;
  agent: string;
  /** A candidate without a commit (its run failed, or it changed nothing) cannot be chosen. */
  commit: string | null;
  checks: Checks | null;
  diffLines: number;
  costUsd: number;
}

const ok = (v: CheckVerdict): boolean => v === 'pass' || v === 'flaky' || v === 'skipped';

/** Whether the candidate passes every gate the rubric calls critical. */
export function passesCritical(checks: Checks, rubric: Rubric): boolean {
  return (Object.entries(rubric.gates) as [GateName, GateLevel][]).every(([gate, level]) => level !== 'critical' || ok(checks[gate]));
}

interface Step {
  name: string;
  /** Higher is better. */
  score: (c: Selectable) => number;
  why: (winner: Selectable, loser: Selectable) => string;
}

function steps(rubric: Rubric): Step[] {
  const gate = (g: GateName) => (c: Selectable) => (c.checks && ok(c.checks[g]) ? 1 : 0);
  const all: (Step | null)[] = [
    {
      name: 'critical gates',
      score: (c) => (c.checks && passesCritical(c.checks, rubric) ? 1 : 0),
      why: (_w, l) => `it passes the critical gates and #${l.index + 1} does not (${failedGates(l, rubric).join(', ')})`,
    },
    rubric.gates.oracle === 'off' ? null : { name: 'oracle', score: gate('oracle'), why: (_w, l) => `the oracle test passes on it and fails on #${l.index + 1}` },
    rubric.gates.suite === 'off' ? null : { name: 'suite', score: gate('suite'), why: (_w, l) => `the suite is no worse than on the base commit, and worse on #${l.index + 1}` },
    rubric.gates.lint === 'off' ? null : { name: 'lint', score: gate('lint'), why: (_w, l) => `lint passes on it and fails on #${l.index + 1}` },
    { name: 'diff size', score: (c) => -c.diffLines, why: (w, l) => `its diff is smaller (${w.diffLines} lines against ${l.diffLines} for #${l.index + 1})` },
    { name: 'cost', score: (c) => -c.costUsd, why: (w, l) => `it cost less ($${w.costUsd.toFixed(4)} against $${l.costUsd.toFixed(4)} for #${l.index + 1})` },
  ];
  return all.filter((s): s is Step => s !== null);
}

function failedGates(c: Selectable, rubric: Rubric): string[] {
  if (!c.checks) return ['it has no checks'];
  return (Object.entries(rubric.gates) as [GateName, GateLevel][]).filter(([g, level]) => level === 'critical' && !ok(c.checks![g])).map(([g]) => g);
}

/** The first step where `a` and `b` differ: negative when `a` ranks first. */
function compare(a: Selectable, b: Selectable, order: readonly Step[]): { diff: number; step: Step | null } {
  for (const step of order) {
    const d = step.score(b) - step.score(a);
    if (d !== 0) return { diff: d, step };
  }
  return { diff: a.index - b.index, step: null };
}

export interface Selection {
  /** The chosen candidate's index, or null when none has a commit to merge. */
  winner: number | null;
  /** Whether the winner passes the critical gates (else repair, or nothing to merge). */
  passing: boolean;
  /** Candidate indices, best first. */
  ranking: number[];
  /** Why the winner won, for the merge request. */
  reasons: string[];
}

export function selectCandidate(candidates: readonly Selectable[], rubric: Rubric): Selection {
  const order = steps(rubric);
  const eligible = candidates.filter((c) => c.commit !== null && c.checks !== null);
  const ranked = [...eligible].sort((a, b) => compare(a, b, order).diff);
  const winner = ranked[0];
  if (!winner) return { winner: null, passing: false, ranking: [], reasons: ['no candidate left a change to review'] };
  const passing = passesCritical(winner.checks!, rubric);
  const reasons: string[] = [];
  if (ranked.length === 1) reasons.push(`#${winner.index + 1} was the only candidate with a change to review`);
  for (const other of ranked.slice(1)) {
    const { step } = compare(winner, other, order);
    reasons.push(step ? `over #${other.index + 1} (${other.agent}): ${step.why(winner, other)}` : `over #${other.index + 1} (${other.agent}): the same patch, made earlier`);
  }
  if (!passing) reasons.push(`#${winner.index + 1} is the best there is but does not pass ${failedGates(winner, rubric).join(', ')}`);
  return { winner: winner.index, passing, ranking: ranked.map((c) => c.index), reasons };
}

/**
 * Head-to-head outcomes between candidates of different agents that both left a change: the
 * better by the selection order wins, and the step that decided it is the reason. Ties (the
 * same patch, the same scores) are no evidence and are left out.
 */
export function pairwiseOutcomes(candidates: readonly Selectable[], rubric: Rubric): PairOutcome[] {
  const order = steps(rubric);
  const eligible = candidates.filter((c) => c.commit !== null && c.checks !== null);
  const out: PairOutcome[] = [];
  for (let i = 0; i < eligible.length; i++) {
    for (let j = i + 1; j < eligible.length; j++) {
      const [a, b] = [eligible[i]!, eligible[j]!];
      if (a.agent === b.agent) continue;
      const { diff, step } = compare(a, b, order);
      if (!step) continue;
      const [w, l] = diff < 0 ? [a, b] : [b, a];
      out.push({ winner: w.index, loser: l.index, winner_agent: w.agent, loser_agent: l.agent, reason: step.name });
    }
  }
  return out;
}

export interface SuiteRun {
  ok: boolean;
  /** Failed tests, when the runner printed a count. */
  fails: number | null;
}

/** Whether a candidate's suite and the base's disagree: then the base is run once more. */
export const needsRerun = (mine: SuiteRun, base: SuiteRun): boolean => mine.ok !== base.ok;

/**
 * The suite gate: no worse than on the base commit. A base that gave another result when run
 * again is flaky, and its disagreement with the candidate is not held against it. Both failing
 * is no worse when the candidate fails no more tests (or when the counts are unknown).
 */
export function suiteVerdict(mine: SuiteRun, base: SuiteRun, rerun: { ok: boolean } | null): CheckVerdict {
  if (needsRerun(mine, base) && rerun !== null && rerun.ok !== base.ok) return 'flaky';
  if (mine.ok) return 'pass';
  if (!base.ok && (mine.fails === null || base.fails === null || mine.fails <= base.fails)) return 'pass';
  return 'fail';
}
