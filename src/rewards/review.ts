/**
 * `review_feedback_score` in [-1, +1] from what humans with write access said: each one's
 * standing verdict, their 👍/👎 on the merge request, their `/doom feedback +1|-1`, and
 * whether it was merged or closed unmerged. Bots, the bot itself and people without write
 * access do not count.
 *
 *   score = clamp(0.3·approvals − 0.3·changes_requested + 0.2·(feedback⁺ − feedback⁻)
 *                 + 0.1·(👍 − 👎) + outcome − 0.15·rounds, −1, 1)
 *   outcome = +0.4 merged, −0.6 closed without merging, 0 while open
 *   rounds  = revision rounds the merge request needed (completed ones; tasks/revisions.ts)
 *
 * So two approvals and a merge score 1.0; a merge nobody reviewed 0.4; a request for changes
 * and a close −0.9. A `/doom feedback` vote weighs twice a reaction (it is written on purpose,
 * with a role checked) and less than a verdict; each person's latest vote stands, once.
 *
 * Each revision round the merge request needed costs 0.15: one approval and a merge after three
 * rounds 0.25 (0.7 with none).
 */
import type { ForgeUser, Permission, Reaction, ReviewVerdict } from '../forges/forge.js';
import { hasRole } from '../permissions/roles.js';

export interface ReviewInput {
  verdicts: readonly ReviewVerdict[];
  reactions: readonly Reaction[];
  state: 'open' | 'merged' | 'closed';
  /** Access of each person who reviewed or reacted, by login. */
  permissions: ReadonlyMap<string, Permission>;
  /** The merge request's author (the bot): never counted. */
  authorLogin: string;
  /** Each person's standing `/doom feedback` vote on this merge request. */
  feedback?: readonly FeedbackSignal[];
  /** Revision rounds the merge request needed; absent, none. */
  rounds?: number;
}

export interface FeedbackSignal {
  user: ForgeUser;
  vote: 1 | -1;
}

/** What each revision round costs the review component. */
export const ROUND_PENALTY = 0.15;

export interface ReviewSummary {
  score: number;
  approvals: string[];
  changesRequested: string[];
  up: number;
  down: number;
  /** `/doom feedback` votes counted, for and against. */
  feedbackUp: number;
  feedbackDown: number;
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
  let feedbackUp = 0;
  let feedbackDown = 0;
  const voted = new Set<string>();
  for (const f of input.feedback ?? []) {
    if (voted.has(f.user.login)) continue;
    voted.add(f.user.login);
    if (!counts(f.user.login, f.user.isBot)) {
      ignored.push(`feedback ${f.vote > 0 ? '+1' : '-1'} by ${f.user.login}`);
      continue;
    }
    if (f.vote > 0) feedbackUp++;
    else feedbackDown++;
  }
  const outcome = input.state === 'merged' ? 0.4 : input.state === 'closed' ? -0.6 : 0;
  const raw =
    0.3 * approvals.length - 0.3 * changesRequested.length + 0.2 * (feedbackUp - feedbackDown) + 0.1 * (up - down) + outcome - ROUND_PENALTY * (input.rounds ?? 0);
  return { score: Math.round(clamp(raw) * 10_000) / 10_000, approvals, changesRequested, up, down, feedbackUp, feedbackDown, ignored };
}

/** The logins whose access decides whether their verdict or reaction counts. */
export function peopleToCheck(verdicts: readonly ReviewVerdict[], reactions: readonly Reaction[], feedback: readonly FeedbackSignal[] = []): string[] {
  const logins = new Set<string>();
  for (const v of verdicts) if (!v.user.isBot) logins.add(v.user.login);
  for (const r of reactions) if (!r.user.isBot && r.kind !== 'other') logins.add(r.user.login);
  for (const f of feedback) if (!f.user.isBot) logins.add(f.user.login);
  return [...logins].sort();
}
