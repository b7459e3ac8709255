/**
 * The task's one sticky comment on its issue, rendered from stored state only (so nothing
 * secret can reach it) and edited in place whenever that state changes.
 */
import { createHash } from 'node:crypto';
import { whoMay } from '../permissions/roles.js';
import type { AgentRow, TaskRow } from '../store/schema.js';
import type { RefusedTrigger } from './issue-change.js';
import { detailsHint } from './failure.js';

export const taskMarker = (taskId: number): string => `<!-- doom-rlvr:task:${taskId} -->`;

export interface CommentView {
  task: TaskRow;
  agent?: AgentRow | null;
  reasons?: string[];
  /** The pipeline's acceptance criteria for the task (its spec phase), once written. */
  acceptance?: string[];
}

/** Criteria come from the issue or an agent: shown as text, none of it read as Markdown. */
const plain = (text: string): string => text.replace(/[\\`*_[\]<>!|#~]/g, (c) => `\\${c}`);

export function renderTaskComment({ task, agent, reasons, acceptance }: CommentView): string {
  const lines = [
    taskMarker(task.id),
    `### doom-rlvr · task ${task.id}`,
    '',
    '| | |',
    '|---|---|',
    `| Status | **${task.status}** |`,
    `| Type / priority | ${task.type} / ${task.priority} |`,
  ];
  if (agent) {
    lines.push(`| Agent | \`${agent.name}\` — ${agent.tier}, rolling average ${agent.rolling_avg.toFixed(2)} over ${agent.total_tasks} tasks |`);
  }
  if (task.pr_url) lines.push(`| Merge request | ${task.pr_url} |`);
  lines.push(`| Budget | ${task.max_tokens.toLocaleString('en-US')} tokens, ${Math.round(task.timeout_ms / 1000)} s |`);
  if (task.status === 'pending' && task.pending_reason) lines.push('', `Waiting: ${task.pending_reason}.`);
  if (task.status === 'failed' && task.error_message) lines.push('', `Failed: ${task.error_message.replace(/([^.!?])$/, '$1.')}`, '', detailsHint(task.id));
  if (agent && reasons && reasons.length > 0) {
    lines.push('', '<details><summary>Why this agent</summary>', '', ...reasons.map((r) => `- ${r}`), '', '</details>');
  }
  if (acceptance && acceptance.length > 0) lines.push('', '**Acceptance criteria**', '', ...acceptance.map((c) => `- ${plain(c)}`));
  const tags = (JSON.parse(task.tags) as string[]).join(', ');
  if (tags) lines.push('', `<sub>Tags: ${tags}</sub>`);
  return lines.join('\n');
}

export const hashComment = (body: string, labels: readonly string[]): string =>
  createHash('sha256').update(body).update('\u0000').update(labels.join(',')).digest('hex').slice(0, 32);

export const REFUSAL_MARKER = '<!-- doom-rlvr:trigger-refused -->';

/**
 * The one notice on an issue whose label or edit did not count. It names the rule, not the
 * person's access: the audit log has the details.
 */
export function renderRefusalNotice(trigger: string, refusal: RefusedTrigger): string {
  return [
    REFUSAL_MARKER,
    '### doom-rlvr',
    '',
    `Only ${whoMay(refusal.role)} can start doom-rlvr with the \`${trigger}\` label or change its task by editing this issue.`,
    refusal.reason === 'bot'
      ? `Bots (here \`${refusal.actor}\`) count only when the bot's operator allows them.`
      : `The change by \`${refusal.actor}\` was not acted on.`,
    '',
    '<sub>This notice is posted once; later changes from others are ignored the same way.</sub>',
  ].join('\n');
}
