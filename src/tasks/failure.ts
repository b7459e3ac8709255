/**
 * What a failed run says in public. The issue's sticky comment is read by anyone who can
 * read the issue, so it gets a short reason and the command an operator runs for the rest;
 * the raw error (git command lines, server paths, hostnames) stays in the run's row and the
 * audit log, where `doom logs --task N` shows it. Pure.
 */
import type { RunFailure } from '../executor/contract.js';
import type { RunOutcome } from '../runners/runner.js';
import { sanitizeName } from '../util/sanitize.js';

export interface FailureInput {
  outcome: RunOutcome;
  failure?: RunFailure;
  /** The raw error, to tell a sandbox that did not start from an agent that failed. */
  error?: string;
  /** The recovery decision's error: the bot's own words for timeouts, token limits, cancellations, empty changes. */
  decided: string;
}

const MAX_FILES = 10;

/** Repo paths written by the agent: sanitized and quoted, so a file name cannot format the comment. */
const fileList = (files: readonly string[]): string => {
  const shown = files.slice(0, MAX_FILES).map((f) => `\`${sanitizeName(f, 120).replace(/`/g, "'")}\``);
  if (files.length > MAX_FILES) shown.push(`and ${files.length - MAX_FILES} more`);
  return shown.join(', ');
};

/** Errors of the sandbox wrapper that mean it could not start, not that the agent failed. */
const sandboxUnavailable = /\b(?:bwrap|bubblewrap|sandbox)\b/i;

/** The short reason a failed run shows on its issue. */
export function publicFailureReason(input: FailureInput): string {
  if (input.outcome !== 'failed') return input.decided;
  const f = input.failure;
  if (!f) return 'the run failed';
  switch (f.stage) {
    case 'guard':
      return `the agent changed protected files (${fileList(f.files)}), so nothing was pushed`;
    case 'workspace':
      return 'the repository could not be fetched or checked out';
    case 'publish':
      return 'the change could not be committed or pushed';
    case 'pipeline':
      return f.reason;
    case 'agent':
      return sandboxUnavailable.test(input.error ?? '') ? "the agent's sandbox could not start" : 'the agent failed';
  }
}

/** The line under a failure that sends an operator to the details. */
export const detailsHint = (taskId: number): string => `Details for the bot's operators: \`doom logs --task ${taskId}\`.`;
