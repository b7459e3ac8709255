/**
 * `review_feedback_score` in [-1, +1] from what humans with write access said: each one's
 * standing verdict, their 👍/👎 on the merge request, and whether it was merged or closed
 * unmerged. Bots, the bot itself and people without write access do not count.
 *
 *   score = clamp(0.3·approvals − 0.3·changes_requested + 0.1·(👍 − 👎) + outcome − 0.15·rounds, −1, 1)
 *   outcome = +0.4 merged, −0.6 closed without merging, 0 while open
 *   rounds  = revision rounds the merge request needed (completed ones; tasks/revisions.ts)
 *
 * So two approvals and a merge score 1.0; a merge nobody reviewed 0.4; a request for changes
 * and a close −0.9; one approval and a merge after three revision rounds 0.25 (0.7 with none).
 */
import type { Permission, Reaction, ReviewVerdict } from '../forges/forge.js';
import { hasRole } from '../permissions/roles.js';

export interface ReviewInput {
  verdicts: readonly ReviewVerdict[];
  reactions: readonly Reaction[];
  state: 'open' | 'merged' | 'closed';
  /** Access of each person who reviewed or reacted, by login. */
  permissions: ReadonlyMap<string, Permission>;
  /** The merge request's author (the bot): never counted. */
  authorLogin: string;
  /** Revision rounds the merge request needed; absent, none. */
  rounds?: number;
}

/** What each revision round costs the review component. */
export const ROUND_PENALTY = 0.15;

export interface ReviewSummary {
  score: number;
  approvals: string[];
  changesRequested: string[];
  up: number;
  down: number;
  /** Verdicts and reactions left out, and why. */
  ignored: string[];
}

const clamp = (v: number): number => Math.max(-1, Math.min(1, v));

export function reviewFeedback(input: ReviewInput): ReviewSummary {
  const ignored: string[] = [];
  const counts = (login: string, isBot: boolean): boolean => {
    if (isBot) return false;
    if (login === input.authorLogin) return false;
    return hasRole(input.permissions.get(login) ?? 'none', 'write');
  };
  const approvals: string[] = [];
  const changesRequested: string[] = [];
  for (const v of input.verdicts) {
    if (!counts(v.user.login, v.user.isBot)) {
      ignored.push(`${v.state} by ${v.user.login}`);
      continue;
    }
    if (v.state === 'approved') approvals.push(v.user.login);
    if (v.state === 'changes_requested') changesRequested.push(v.user.login);
  }
  let up = 0;
  let down = 0;
  // One reaction of each kind per person: ten 👍 from one account are one 👍.
  const seen = new Set<string>();
  for (const r of input.reactions) {
    if (r.kind === 'other') continue;
    const key = `${r.user.login}:${r.kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!counts(r.user.login, r.user.isBot)) {
      ignored.push(`${r.kind === 'up' ? '👍' : '👎'} by ${r.user.login}`);
      continue;
    }
    if (r.kind === 'up') up++;
    else down++;
  }
  const outcome = input.state === 'merged' ? 0.4 : input.state === 'closed' ? -0.6 : 0;
  const raw = 0.3 * approvals.length - 0.3 * changesRequested.length + 0.1 * (up - down) + outcome - ROUND_PENALTY * (input.rounds ?? 0);
  return { score: Math.round(clamp(raw) * 10_000) / 10_000, approvals, changesRequested, up, down, ignored };
}

/** The logins whose access decides whether their verdict or reaction counts. */
export function peopleToCheck(verdicts: readonly ReviewVerdict[], reactions: readonly Reaction[]): string[] {
  const logins = new Set<string>();
  for (const v of verdicts) if (!v.user.isBot) logins.add(v.user.login);
  for (const r of reactions) if (!r.user.isBot && r.kind !== 'other') logins.add(r.user.login);
  return [...logins].sort();
}
