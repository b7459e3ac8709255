/**
 * Rounds: after an attempt published its merge request, people (a review that requests
 * changes, `/doom revise`) and CI (a red pipeline) may send the same agent back to the same
 * branch. Each round is a run of that attempt, with its own usage; the attempt keeps its one
 * reward. This module holds the shapes and the pure decisions; store/transitions.ts applies
 * them in one transaction (`startRound`, `failRound`), tasks/revisions.ts and
 * tasks/ci-fixes.ts turn forge events into requests.
 *
 * ```ts
 * const d = decideRound({ kind: 'revision', taskStatus: 'completed', agentTier: 'senior', rounds: 1, maxRounds: 3, duplicate: false, hasMergeRequest: true });
 * // { kind: 'start', round: 2 }
 * ```
 */
import { z } from 'zod';
import type { RoundKind, TaskStatus } from '../store/schema.js';

/** One piece of review feedback: a review body, an inline comment (file and line), or instructions. */
export const roundComment = z.object({
  author: z.string(),
  body: z.string(),
  path: z.string().nullable(),
  line: z.number().int().nullable(),
});
export type RoundComment = z.infer<typeof roundComment>;

/** The failing CI job a fix round gets: its name and an excerpt of its log (tasks/ci-log.ts). */
export const roundJob = z.object({ name: z.string(), url: z.string().nullable(), excerpt: z.string() });
export type RoundJob = z.infer<typeof roundJob>;

/** What a round's prompt quotes, all of it untrusted: people's words and CI output. */
export const roundInput = z.object({
  /** Who or what asked, for the reply: `@alice's review`, `/doom revise by @bob`, `pipeline 123`. */
  requestedBy: z.string(),
  comments: z.array(roundComment).default([]),
  job: roundJob.nullable().default(null),
  /** Jobs that failed on the target branch too: named in the prompt as not this change's. */
  inheritedJobs: z.array(z.string()).default([]),
});
export type RoundInput = z.infer<typeof roundInput>;

/** Reads a stored `round_input`; one that does not parse is a round with nothing quoted. */
export function readRoundInput(text: string | null): RoundInput {
  const parsed = text ? roundInput.safeParse(JSON.parse(text)) : null;
  return parsed?.success ? parsed.data : { requestedBy: 'an earlier request', comments: [], job: null, inheritedJobs: [] };
}

export interface RoundState {
  kind: RoundKind;
  taskStatus: TaskStatus;
  agentTier: string;
  /** Rounds of this kind the attempt already had (started ones included). */
  rounds: number;
  maxRounds: number;
  /** The trigger (this review, this command line, this head's red pipeline) already started one. */
  duplicate: boolean;
  hasMergeRequest: boolean;
}

export type RoundDecision =
  | { kind: 'start'; round: number }
  | { kind: 'duplicate' }
  /** A run of the task is under way (one round at a time per merge request). */
  | { kind: 'busy'; why: string }
  | { kind: 'capped'; rounds: number }
  | { kind: 'refuse'; why: string };

export function decideRound(s: RoundState): RoundDecision {
  if (s.duplicate) return { kind: 'duplicate' };
  if (!s.hasMergeRequest) return { kind: 'refuse', why: 'the task has no merge request yet' };
  if (s.taskStatus !== 'completed') {
    return s.taskStatus === 'failed'
      ? { kind: 'refuse', why: 'the task failed; add the trigger label again to start a new attempt' }
      : { kind: 'busy', why: `the task is ${s.taskStatus.replace('_', ' ')}: one run at a time` };
  }
  if (s.agentTier === 'suspended') return { kind: 'refuse', why: "the merge request's agent is suspended" };
  if (s.rounds >= s.maxRounds) return { kind: 'capped', rounds: s.rounds };
  return { kind: 'start', round: s.rounds + 1 };
}

/** Words for a kind of round, in replies. */
export const roundName = (kind: RoundKind): string => (kind === 'revision' ? 'Revision' : 'CI fix');
