/**
 * What the bot says on a merge request about its rounds: one comment per round (edited as the
 * round goes from started to done or failed), one when a cap is reached, one when a red
 * pipeline is not the change's doing. Pure; each text has its marker, so a retry edits instead
 * of posting twice.
 */
import type { RoundKind } from '../store/schema.js';
import { sanitizeName } from '../util/sanitize.js';
import { roundName } from './rounds.js';

export const roundMarker = (taskId: number, runId: number): string => `<!-- doom-rlvr:round:${taskId}:${runId} -->`;
export const capMarker = (taskId: number, kind: RoundKind): string => `<!-- doom-rlvr:round-cap:${taskId}:${kind} -->`;
export const inheritedMarker = (taskId: number, sha: string): string => `<!-- doom-rlvr:ci-inherited:${taskId}:${sha.slice(0, 40)} -->`;

const MAX_FILES = 20;
const code = (text: string): string => `\`${sanitizeName(text, 120).replace(/`/g, "'")}\``;
const short = (sha: string): string => sha.slice(0, 7);

export interface RoundView {
  kind: RoundKind;
  round: number;
  maxRounds: number;
  agent: string;
  /** Who or what asked (`@alice's review`, `pipeline 123`), from the stored round input. */
  requestedBy: string;
}

const title = (v: RoundView): string => `**${roundName(v.kind)} round ${v.round} of ${v.maxRounds}** (${sanitizeName(v.requestedBy, 120)})`;

export function roundStartedText(v: RoundView): string {
  return `${title(v)}: \`${sanitizeName(v.agent, 100)}\` is working on it, on this branch, from its current head.`;
}

export function roundDoneText(v: RoundView & { sha: string; baseSha: string | null; files: string[] | null; summary: string | null }): string {
  const on = v.baseSha ? `a follow-up commit ${short(v.sha)} on top of ${short(v.baseSha)}` : `commit ${short(v.sha)}`;
  const lines = [`${title(v)}: \`${sanitizeName(v.agent, 100)}\` pushed ${on}.`];
  if (v.files && v.files.length > 0) {
    lines.push('', 'Changed in this round:', ...v.files.slice(0, MAX_FILES).map((f) => `- ${code(f)}`));
    if (v.files.length > MAX_FILES) lines.push(`- and ${v.files.length - MAX_FILES} more`);
  }
  const summary = v.summary?.trim();
  if (summary) lines.push('', 'The agent says:', '', ...summary.slice(0, 2_000).split('\n').map((l) => `> ${l}`));
  return lines.join('\n');
}

export function roundFailedText(v: RoundView & { reason: string }): string {
  return `${title(v)}: did not change the merge request: ${v.reason}.`;
}

export function capText(kind: RoundKind, rounds: number, max: number): string {
  return kind === 'revision'
    ? `This merge request has had ${rounds} revision round(s), the most \`[review] max_rounds\` (${max}) allows: further changes are over to a person.`
    : `CI still fails after ${rounds} fix run(s), the most \`[ci_fix] max_rounds\` (${max}) allows: no further pipeline starts one. Over to a person.`;
}

export function inheritedText(v: { jobs: string[]; targetBranch: string; targetPipeline: number }): string {
  return [
    `The pipeline failed in ${v.jobs.map(code).join(', ')}, which also fail${v.jobs.length === 1 ? 's' : ''} in the latest pipeline of ${code(v.targetBranch)} (${v.targetPipeline}).`,
    "That is not this change's doing: no fix run is started, and the failure does not count against the agent's reward.",
  ].join(' ');
}
