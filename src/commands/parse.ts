/**
 * The slash-command parser: comment text in, commands out. Pure, no I/O.
 *
 * A command is `/doom <command> [args]` at the start of a line (up to three spaces of
 * indent, as Markdown allows before a paragraph). Lines that are not the comment's own
 * words never trigger: quoted replies (`> `), fenced code (``` or ~~~), indented code (four
 * spaces or a tab), and lines that begin inside an inline code span opened on an earlier
 * line. Several commands in one comment come out in their order.
 *
 * Arguments are split on whitespace, with "…" and '…' grouping words; nothing here (or
 * after) hands them to a shell: they are data, checked per command (an agent name must look
 * like one, a tier must be a tier). What cannot be read is a usage error naming the problem,
 * never a guess; an unknown command is reported as such (the handler answers with help).
 */

export const TIERS = ['junior', 'senior', 'principal'] as const;
export type Tier = (typeof TIERS)[number];
export const LEADERBOARD_TYPES = ['reward', 'tasks', 'success-rate'] as const;
export type LeaderboardType = (typeof LEADERBOARD_TYPES)[number];

export const COMMAND_NAMES = [
  'help',
  'status',
  'assign',
  'retry',
  'escalate',
  'cancel',
  'revise',
  'feedback',
  'budget',
  'promote',
  'suspend',
  'reinstate',
  'leaderboard',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export type Command =
  | { name: 'help' }
  | { name: 'status' }
  | { name: 'assign'; agent: string | null }
  | { name: 'retry'; tier: Tier | null }
  | { name: 'escalate' }
  | { name: 'cancel' }
  | { name: 'revise'; instructions: string }
  | { name: 'feedback'; vote: 1 | -1; text: string | null }
  | { name: 'budget'; raise: { tokens: number } | { usd: number } | null }
  | { name: 'promote'; agent: string; reason: string | null }
  | { name: 'suspend'; agent: string; reason: string }
  | { name: 'reinstate'; agent: string }
  | { name: 'leaderboard'; type: LeaderboardType };

/** One `/doom` line, read. `line` is 1-based in the comment. */
export type Parsed =
  | { kind: 'command'; line: number; command: Command }
  | { kind: 'usage'; line: number; name: CommandName; problem: string }
  | { kind: 'unknown'; line: number; name: string };

export type ParseResult =
  | { kind: 'ok'; commands: Parsed[] }
  /** The whole comment is refused: nothing in it runs. */
  | { kind: 'error'; problem: string };

export const LIMITS = {
  /** GitHub's own limit for a comment body; GitLab allows more, we do not. */
  commentChars: 65_536,
  /** Commands read from one comment. */
  commands: 10,
  /** One `/doom` line. */
  lineChars: 4_000,
} as const;

export const USAGE: Record<CommandName, string> = {
  help: '/doom help',
  status: '/doom status',
  assign: '/doom assign [agent]',
  retry: '/doom retry [--tier junior|senior|principal]',
  escalate: '/doom escalate',
  cancel: '/doom cancel',
  revise: '/doom revise <instructions>',
  feedback: '/doom feedback +1|-1 [text]',
  budget: '/doom budget [<tokens>|$<usd>]',
  promote: '/doom promote <agent> [--reason <text>]',
  suspend: '/doom suspend <agent> --reason <text>',
  reinstate: '/doom reinstate <agent>',
  leaderboard: '/doom leaderboard [reward|tasks|success-rate]',
};

const TRIGGER = /^ {0,3}\/doom(?=$|\s)/u;
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function parseComment(body: string): ParseResult {
  if (body.length > LIMITS.commentChars) {
    return { kind: 'error', problem: `the comment is ${body.length} characters long; commands are read from comments of at most ${LIMITS.commentChars}` };
  }
  const lines = commandLines(body);
  if (lines.length > LIMITS.commands) {
    return { kind: 'error', problem: `the comment has ${lines.length} commands; at most ${LIMITS.commands} run from one comment` };
  }
  return { kind: 'ok', commands: lines.map(({ line, text }) => parseLine(line, text)) };
}

/** The `/doom` lines that are the comment's own text, with their 1-based line numbers. */
export function commandLines(body: string): Array<{ line: number; text: string }> {
  const found: Array<{ line: number; text: string }> = [];
  let fence: { char: string; length: number } | null = null;
  let openSpan = 0; // length of the backtick run of an inline code span still open
  const lines = body.split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    if (fence) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(raw);
      if (close?.[1] && close[1][0] === fence.char && close[1].length >= fence.length) fence = null;
      return;
    }
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(raw);
    if (open?.[1]) {
      fence = { char: open[1][0]!, length: open[1].length };
      openSpan = 0;
      return;
    }
    if (raw.trim() === '') {
      openSpan = 0; // a paragraph ends; so does any span
      return;
    }
    const startsInSpan = openSpan > 0;
    openSpan = spanStateAfter(raw, openSpan);
    if (startsInSpan || /^ {0,3}>/.test(raw) || /^( {4}|\t)/.test(raw)) return;
    if (TRIGGER.test(raw)) found.push({ line: index + 1, text: raw.trim().slice('/doom'.length) });
  });
  return found;
}

/** Follows inline code spans through one line: the backtick run still open at its end, or 0. */
function spanStateAfter(line: string, open: number): number {
  let state = open;
  for (const match of line.matchAll(/`+/g)) {
    const run = match[0].length;
    if (state === 0) state = run;
    else if (run === state) state = 0;
  }
  return state;
}

function parseLine(line: number, rest: string): Parsed {
  const trimmed = rest.trim();
  const [word = ''] = trimmed.split(/\s+/u, 1);
  const name = word.toLowerCase();
  if (name === '') return { kind: 'command', line, command: { name: 'help' } };
  if (!isCommandName(name)) return { kind: 'unknown', line, name: clip(word, 40) };
  if (rest.length > LIMITS.lineChars) {
    return { kind: 'usage', line, name, problem: `the command is ${rest.length} characters long; at most ${LIMITS.lineChars}` };
  }
  const argsText = trimmed.slice(word.length).trim();
  const tokens = tokenize(argsText);
  if (typeof tokens === 'string') return { kind: 'usage', line, name, problem: tokens };
  const result = parseArgs(name, tokens, argsText);
  return typeof result === 'string' ? { kind: 'usage', line, name, problem: result } : { kind: 'command', line, command: result };
}

function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

interface Token {
  text: string;
  quoted: boolean;
}

/** Whitespace-separated words; "…" or '…' make one word of what they enclose. */
export function tokenize(text: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/u.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const end = text.indexOf(ch, i + 1);
      if (end === -1) return `the quote ${ch} opened at character ${i + 1} is not closed`;
      tokens.push({ text: text.slice(i + 1, end), quoted: true });
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/u.test(text[j]!)) j++;
    tokens.push({ text: text.slice(i, j), quoted: false });
    i = j;
  }
  return tokens;
}

interface Split {
  positional: Token[];
  flags: Map<string, string>;
}

/**
 * Separates `--flag value` (or `--flag=value`) from positional words. `--reason` takes every
 * word after it up to the next flag, so a reason needs no quotes.
 */
function splitFlags(tokens: Token[], allowed: readonly string[]): Split | string {
  const positional: Token[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const flag = token.quoted ? null : /^--([a-z-]+)(?:=(.*))?$/.exec(token.text);
    if (!flag) {
      positional.push(token);
      continue;
    }
    const key = flag[1]!;
    if (!allowed.includes(key)) return allowed.length === 0 ? `takes no option (got --${key})` : `unknown option --${key}; options: ${allowed.map((a) => `--${a}`).join(', ')}`;
    if (flags.has(key)) return `--${key} is given twice`;
    const words: string[] = flag[2] !== undefined ? [flag[2]] : [];
    const greedy = key === 'reason';
    while (i + 1 < tokens.length && (greedy || words.length === 0) && !isFlag(tokens[i + 1]!)) words.push(tokens[++i]!.text);
    const value = words.join(' ').trim();
    if (value === '') return `--${key} needs a value`;
    flags.set(key, value);
  }
  return { positional, flags };
}

function isFlag(token: Token): boolean {
  return !token.quoted && token.text.startsWith('--');
}

function parseArgs(name: CommandName, tokens: Token[], argsText: string): Command | string {
  switch (name) {
    case 'help':
    case 'status':
    case 'escalate':
    case 'cancel':
      return tokens.length === 0 ? { name } : `takes no arguments (got "${clip(argsText, 60)}")`;
    case 'assign':
      return assign(tokens);
    case 'retry':
      return retry(tokens);
    case 'revise':
      return argsText === '' ? 'needs the instructions for the agent' : { name, instructions: argsText };
    case 'feedback':
      return feedback(tokens, argsText);
    case 'budget':
      return budget(tokens);
    case 'promote':
    case 'suspend':
      return agentWithReason(name, tokens);
    case 'reinstate':
      return reinstate(tokens);
    case 'leaderboard':
      return leaderboard(tokens);
  }
}

function assign(tokens: Token[]): Command | string {
  const split = splitFlags(tokens, []);
  if (typeof split === 'string') return split;
  if (split.positional.length > 1) return 'takes at most one agent';
  const agent = split.positional[0]?.text ?? null;
  if (agent !== null && !AGENT_NAME.test(agent)) return agentProblem(agent);
  return { name: 'assign', agent };
}

function retry(tokens: Token[]): Command | string {
  const split = splitFlags(tokens, ['tier']);
  if (typeof split === 'string') return split;
  if (split.positional.length > 0) return `takes no arguments besides --tier (got "${clip(split.positional[0]!.text, 40)}")`;
  const tier = split.flags.get('tier')?.toLowerCase() ?? null;
  if (tier !== null && !(TIERS as readonly string[]).includes(tier)) return `--tier must be one of ${TIERS.join(', ')} (got "${clip(tier, 40)}")`;
  return { name: 'retry', tier: tier as Tier | null };
}

function feedback(tokens: Token[], argsText: string): Command | string {
  const first = tokens[0]?.text;
  const vote = first === '+1' ? 1 : first === '-1' ? -1 : null;
  if (vote === null) return first === undefined ? 'needs +1 or -1' : `the first argument must be +1 or -1 (got "${clip(first, 40)}")`;
  const text = argsText.replace(/^\S+/u, '').trim();
  return { name: 'feedback', vote, text: text === '' ? null : text };
}

function budget(tokens: Token[]): Command | string {
  if (tokens.length === 0) return { name: 'budget', raise: null };
  const words = tokens.map((t) => t.text.toLowerCase());
  const text = words.join(' ');
  const usd = /^\$(\d+(?:\.\d{1,2})?)$|^(\d+(?:\.\d{1,2})?) ?usd$/.exec(text);
  if (usd) {
    const amount = Number(usd[1] ?? usd[2]);
    return amount > 0 ? { name: 'budget', raise: { usd: amount } } : 'the amount must be more than $0';
  }
  const count = /^(\d+(?:\.\d+)?)([km]?)(?: tokens)?$/.exec(text);
  if (count) {
    const tokensCount = Math.round(Number(count[1]) * (count[2] === 'k' ? 1e3 : count[2] === 'm' ? 1e6 : 1));
    if (!Number.isSafeInteger(tokensCount) || tokensCount <= 0) return 'the token count must be a positive whole number';
    return { name: 'budget', raise: { tokens: tokensCount } };
  }
  return `expected a token count (200000, 200k, 1.5M) or dollars ($5, 5 usd), got "${clip(text, 40)}"`;
}

function agentWithReason(name: 'promote' | 'suspend', tokens: Token[]): Command | string {
  const split = splitFlags(tokens, ['reason']);
  if (typeof split === 'string') return split;
  const [agentToken, ...extra] = split.positional;
  if (!agentToken) return 'needs the agent name';
  if (!AGENT_NAME.test(agentToken.text)) return agentProblem(agentToken.text);
  if (extra.length > 0) return `takes one agent; put the reason after --reason (got "${clip(extra[0]!.text, 40)}")`;
  const reason = split.flags.get('reason') ?? null;
  if (name === 'promote') return { name, agent: agentToken.text, reason };
  return reason === null ? 'needs --reason <text>: a suspension says why' : { name, agent: agentToken.text, reason };
}

function reinstate(tokens: Token[]): Command | string {
  const split = splitFlags(tokens, []);
  if (typeof split === 'string') return split;
  const [agentToken, ...extra] = split.positional;
  if (!agentToken) return 'needs the agent name';
  if (extra.length > 0) return 'takes one agent';
  if (!AGENT_NAME.test(agentToken.text)) return agentProblem(agentToken.text);
  return { name: 'reinstate', agent: agentToken.text };
}

function leaderboard(tokens: Token[]): Command | string {
  if (tokens.length > 1) return 'takes at most one type';
  const type = tokens[0]?.text.toLowerCase() ?? 'reward';
  if (!(LEADERBOARD_TYPES as readonly string[]).includes(type)) return `the type must be one of ${LEADERBOARD_TYPES.join(', ')} (got "${clip(type, 40)}")`;
  return { name: 'leaderboard', type: type as LeaderboardType };
}

function agentProblem(agent: string): string {
  return `"${clip(agent, 40)}" is not an agent name (letters, digits, ".", "_" and "-", at most 64)`;
}

/** A piece of untrusted text short enough to quote back, on one line. */
function clip(text: string, max: number): string {
  const chars = [...text].map((c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' || c === '`' ? ' ' : c));
  const flat = chars.join('');
  return chars.length <= max ? flat : `${chars.slice(0, max).join('')}…`;
}
