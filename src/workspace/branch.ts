import { sanitizeName } from '../util/sanitize.js';

/**
 * Deterministic branch names: the same task always maps to the same branch, so a retry finds
 * (and rewrites) its own branch and the forge finds the existing MR by source branch. A task
 * whose merge request ended (merged or closed) and is asked for again gets the next branch,
 * `doom/<task-id>-<slug>-2`, then `-3`, and so a new merge request.
 */

const MAX_SLUG = 40;

/**
 * Lowercase ASCII `[a-z0-9-]` only: accents are folded (é → e), everything else becomes a
 * dash. That alphabet can never form `..`, `.lock`, `@{`, a leading dot or a control
 * character, so the result is always valid for `git check-ref-format`.
 */
export function slugify(text: string, max = MAX_SLUG): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (ascii.length <= max) return ascii;
  const cut = ascii.slice(0, max);
  // Prefer ending on a word boundary when one is reasonably close to the limit.
  const lastDash = cut.lastIndexOf('-');
  const atWord = ascii[max] === '-' ? cut : lastDash >= max / 2 ? cut.slice(0, lastDash) : cut;
  return atWord.replace(/-+$/, '');
}

/**
 * `doom/<task-id>-<slug>`, e.g. `doom/42-fix-login-redirect-loop`; from the second merge
 * request of a task on, `-<round>` after it (`doom/42-fix-login-redirect-loop-2`). The slug is
 * made from the sanitized title: the text of a hidden HTML comment or a zero-width character
 * must not shape a name nobody saw written.
 */
export function branchName(taskId: number | string, title: string, round = 1): string {
  if (!Number.isSafeInteger(round) || round < 1) throw new RangeError(`branch round must be a positive integer, got ${round}`);
  let id: string;
  if (typeof taskId === 'number') {
    if (!Number.isSafeInteger(taskId) || taskId < 0) throw new RangeError(`task id must be a non-negative integer, got ${taskId}`);
    id = String(taskId);
  } else {
    id = slugify(taskId, 64);
    if (id === '') throw new RangeError(`task id ${JSON.stringify(taskId)} has no usable characters`);
  }
  const slug = slugify(sanitizeName(title, 200)) || 'task';
  return round === 1 ? `doom/${id}-${slug}` : `doom/${id}-${slug}-${round}`;
}

/**
 * The branch for a task's next merge request, given the branches its attempts already used:
 * round one more than their number, skipped forward past a name already taken (a retitled
 * task can make one round's name equal another's).
 */
export function nextBranchName(taskId: number, title: string, used: readonly string[]): string {
  let round = used.length + 1;
  while (used.includes(branchName(taskId, title, round))) round++;
  return branchName(taskId, title, round);
}
