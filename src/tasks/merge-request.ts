/**
 * The pull/merge request the bot opens for a task, rendered from stored state only: the
 * summary, the issue it closes, who wrote it and what it cost, the review app once deployed.
 */
import { describeFinding, type GuardFinding } from '../policy/guards.js';
import type { AssignmentRow, MergeRequestState, TaskRow } from '../store/schema.js';
import { sanitizeName } from '../util/sanitize.js';
import { reviewAppSection } from './review-app.js';

/** Where a task asked for again (relabeled, reopened) publishes its next attempt. */
export type NextMergeRequest =
  /** On the task's branch: the open merge request (or the first one) is updated or opened there. */
  | { kind: 'same' }
  /** The task's merge request ended: a new branch and a new merge request; the old attempt's reward stays. */
  | { kind: 'new'; reason: string };

/**
 * A relabel reuses the task's branch and merge request while that merge request is open;
 * once it is merged or closed (or gone), the next attempt opens a new one. `state` is what the
 * forge says now of the task's merge request, null when it has none.
 */
export function nextMergeRequest(task: Pick<TaskRow, 'pr_number'>, state: MergeRequestState | 'missing' | null): NextMergeRequest {
  if (task.pr_number === null || state === null || state === 'open') return { kind: 'same' };
  return { kind: 'new', reason: state === 'missing' ? `merge request !${task.pr_number} no longer exists` : `merge request !${task.pr_number} was ${state}` };
}

export const mergeRequestMarker = (taskId: number): string => `<!-- doom-rlvr:mr:${taskId} -->`;

export interface MergeRequestView {
  task: Pick<TaskRow, 'id' | 'title' | 'issue_number' | 'review_app_url' | 'duration_ms' | 'type' | 'priority'>;
  run: Pick<AssignmentRow, 'agent_name' | 'input_tokens' | 'output_tokens' | 'cache_tokens' | 'cost_usd' | 'turns'>;
  agentTier: string;
  summary: string | null;
  changedFiles: string[];
  /** What the guards flagged; said at the top, before anything else. */
  guards?: GuardFinding[];
}

const MAX_FILES = 30;

/** The issue's title as a reader saw it: sanitized (no hidden comments, bidi or zero-width characters), one line. */
export function mergeRequestTitle(task: Pick<TaskRow, 'title' | 'type'>): string {
  return sanitizeName(task.title, 200) || `doom ${task.type} task`;
}

const seconds = (ms: number): string => (ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);

const MAX_FINDINGS = 20;

/** The warning a flagged change opens with: a reviewer reads it before the summary. */
function guardNote(findings: readonly GuardFinding[]): string[] {
  if (findings.length === 0) return [];
  const listed = findings.slice(0, MAX_FINDINGS).map((f) => `> - ${describeFinding(f)}`);
  if (findings.length > MAX_FINDINGS) listed.push(`> - … and ${findings.length - MAX_FINDINGS} more`);
  return [
    '> [!WARNING]',
    '> **Protected change.** The agent changed what its reward is computed from. Review these',
    "> first; until then this merge request's CI, coverage and lint do not count toward its",
    '> reward (they take their configured defaults, and the reward is marked guarded).',
    '>',
    ...listed,
    '',
  ];
}

export function renderMergeRequestBody(view: MergeRequestView): string {
  const { task, run } = view;
  const files = view.changedFiles.slice(0, MAX_FILES).map((f) => `- \`${f.replace(/`/g, "'")}\``);
  if (view.changedFiles.length > MAX_FILES) files.push(`- … and ${view.changedFiles.length - MAX_FILES} more`);
  const lines = [mergeRequestMarker(task.id), ...guardNote(view.guards ?? []), `Closes #${task.issue_number}`,
    '',
    '## Summary',
    '',
    view.summary?.trim() || `The agent changed ${view.changedFiles.length} file(s) for this ${task.type} task.`,
    '',
    '### Changed files',
    '',
    ...(files.length > 0 ? files : ['- (none)']),
  ];
  if (task.review_app_url) lines.push('', reviewAppSection(task.review_app_url));
  lines.push(
    '',
    '## Run',
    '',
    '| | |',
    '|---|---|',
    `| Task | ${task.id} (${task.type}, ${task.priority}) |`,
    `| Agent | \`${run.agent_name}\` (${view.agentTier}) |`,
    `| Tokens | ${run.input_tokens.toLocaleString('en-US')} in, ${run.output_tokens.toLocaleString('en-US')} out, ${run.cache_tokens.toLocaleString('en-US')} cache |`,
    `| Cost | $${run.cost_usd.toFixed(4)} |`,
    `| Turns | ${run.turns} |`,
    `| Duration | ${seconds(task.duration_ms)} |`,
    '',
    '<sub>Opened by doom-rlvr. CI results and reviews on this merge request become the agent\'s reward.</sub>',
  );
  return lines.join('\n');
}
