/**
 * What the bot answers to a comment's commands: pure rendering, one section per `/doom`
 * line, in the comment's order. Untrusted text (a command name, an argument) only comes
 * back clipped by the parser, inside code spans.
 */
import type { Config } from '../config/schema.js';
import type { CommentRef } from '../forges/forge.js';
import { whoMay, type Role } from '../permissions/roles.js';
import { COMMAND_NAMES, USAGE, type CommandName } from './parse.js';

export type Outcome =
  | { kind: 'done'; name: CommandName; text: string }
  /** The command ran and was refused by the domain (an unknown agent, a tier with none above). */
  | { kind: 'failed'; name: CommandName; message: string }
  | { kind: 'usage'; name: CommandName; problem: string }
  | { kind: 'refused'; name: CommandName; role: Role; message: string }
  | { kind: 'unknown'; name: string }
  /** Parsed and permitted, but this version of the bot does not carry it out yet. */
  | { kind: 'not-handled'; name: CommandName }
  /** An earlier delivery began it and did not finish: it is not run a second time. */
  | { kind: 'interrupted'; name: CommandName };

export const COMMAND_MARKER_PREFIX = '<!-- doom-rlvr:command:';

/**
 * The marker of the one reply to a comment: a retry or a redelivery edits it. A review body
 * and an inline review comment have ids of their own, so their markers say which.
 */
export function commandMarker(comment: CommentRef): string {
  const kind = comment.kind === 'comment' ? '' : `${comment.kind}:`;
  return `${COMMAND_MARKER_PREFIX}${kind}${comment.id} -->`;
}

export function renderReply(author: string, outcomes: Array<{ line: number; outcome: Outcome }>, help: string): string {
  const sections = outcomes.map(({ outcome }) => renderOutcome(outcome, help));
  return [`@${author}`, ...sections].join('\n\n');
}

function renderOutcome(outcome: Outcome, help: string): string {
  switch (outcome.kind) {
    case 'done':
      return `**\`/doom ${outcome.name}\`**\n\n${outcome.text}`;
    case 'failed':
      return `**\`/doom ${outcome.name}\`** did nothing: ${outcome.message}`;
    case 'usage':
      return `**\`/doom ${outcome.name}\`**: ${outcome.problem}.\n\nUsage: \`${USAGE[outcome.name]}\``;
    case 'refused':
      return `**\`/doom ${outcome.name}\`** refused: ${outcome.message}. It is for ${whoMay(outcome.role)}.`;
    case 'unknown':
      return `**\`/doom ${outcome.name}\`** is not a command.\n\n${help}`;
    case 'not-handled':
      return `**\`/doom ${outcome.name}\`** is understood but not carried out by this version of the bot yet; nothing changed.`;
    case 'interrupted':
      return `**\`/doom ${outcome.name}\`** was interrupted on an earlier attempt and is not run twice; check with \`/doom status\` and run it again if needed.`;
  }
}

/** The help text: every command, its usage and the role it needs here. */
export function helpText(config: Pick<Config, 'commands'>, handled: ReadonlySet<CommandName>): string {
  const rows = COMMAND_NAMES.map((name) => {
    const role = config.commands.roles[name];
    // A `|` in a table cell ends it, even in a code span, unless escaped (GFM).
    return `| \`${USAGE[name].replaceAll('|', '\\|')}\` | ${role} | ${handled.has(name) ? '' : 'not handled yet'} |`;
  });
  return ['Commands, one per line at the start of a line:', '', '| command | role | note |', '|---|---|---|', ...rows].join('\n');
}

/** A whole-comment refusal (too long, too many commands). */
export function renderCommentError(author: string, problem: string): string {
  return `@${author} no command in this comment ran: ${problem}.`;
}
