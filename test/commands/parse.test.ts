import { describe, expect, it } from 'vitest';
import { LIMITS, parseComment, type Command, type ParseResult } from '../../src/commands/parse.js';

/** The commands of a comment that parses, or the whole-comment error. */
function read(body: string): ParseResult {
  return parseComment(body);
}

function only(body: string) {
  const result = read(body);
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${result.problem}`);
  expect(result.commands).toHaveLength(1);
  return result.commands[0]!;
}

describe('parseComment: each command and its arguments', () => {
  const valid: Array<[string, Command]> = [
    ['/doom help', { name: 'help' }],
    ['/doom', { name: 'help' }],
    ['/doom HELP', { name: 'help' }],
    ['/doom status', { name: 'status' }],
    ['/doom assign', { name: 'assign', agent: null }],
    ['/doom assign claude-sonnet', { name: 'assign', agent: 'claude-sonnet' }],
    ['/doom assign "claude.v2_b"', { name: 'assign', agent: 'claude.v2_b' }],
    ['/doom retry', { name: 'retry', tier: null }],
    ['/doom retry --tier senior', { name: 'retry', tier: 'senior' }],
    ['/doom retry --tier=PRINCIPAL', { name: 'retry', tier: 'principal' }],
    ['/doom escalate', { name: 'escalate' }],
    ['/doom cancel', { name: 'cancel' }],
    ['/doom revise use the logger, not console.log', { name: 'revise', instructions: 'use the logger, not console.log' }],
    ['/doom revise "keep the quotes" and $(rm -rf /)', { name: 'revise', instructions: '"keep the quotes" and $(rm -rf /)' }],
    ['/doom feedback +1', { name: 'feedback', vote: 1, text: null }],
    ['/doom feedback -1 the tests are shallow', { name: 'feedback', vote: -1, text: 'the tests are shallow' }],
    ['/doom budget', { name: 'budget', raise: null }],
    ['/doom budget 200000', { name: 'budget', raise: { tokens: 200_000 } }],
    ['/doom budget 200k', { name: 'budget', raise: { tokens: 200_000 } }],
    ['/doom budget 1.5M tokens', { name: 'budget', raise: { tokens: 1_500_000 } }],
    ['/doom budget $5', { name: 'budget', raise: { usd: 5 } }],
    ['/doom budget 2.50 usd', { name: 'budget', raise: { usd: 2.5 } }],
    ['/doom promote claude', { name: 'promote', agent: 'claude', reason: null }],
    ['/doom promote claude --reason three clean MRs in a row', { name: 'promote', agent: 'claude', reason: 'three clean MRs in a row' }],
    ['/doom promote claude --reason "quoted reason"', { name: 'promote', agent: 'claude', reason: 'quoted reason' }],
    ["/doom suspend aider --reason 'pushed secrets'", { name: 'suspend', agent: 'aider', reason: 'pushed secrets' }],
    ['/doom reinstate aider', { name: 'reinstate', agent: 'aider' }],
    ['/doom leaderboard', { name: 'leaderboard', type: 'reward' }],
    ['/doom leaderboard tasks', { name: 'leaderboard', type: 'tasks' }],
    ['/doom leaderboard success-rate', { name: 'leaderboard', type: 'success-rate' }],
  ];
  for (const [body, command] of valid) {
    it(`${body} → ${command.name}`, () => {
      expect(only(body)).toEqual({ kind: 'command', line: 1, command });
    });
  }

  const usage: Array<[string, string, RegExp]> = [
    ['/doom status now', 'status', /takes no arguments \(got "now"\)/],
    ['/doom help me', 'help', /takes no arguments/],
    ['/doom assign a b', 'assign', /at most one agent/],
    ['/doom assign ../../etc/passwd', 'assign', /"..\/..\/etc\/passwd" is not an agent name/],
    ['/doom assign clаude', 'assign', /is not an agent name/], // Cyrillic а
    ['/doom retry --tier boss', 'retry', /--tier must be one of junior, senior, principal \(got "boss"\)/],
    ['/doom retry --tier', 'retry', /--tier needs a value/],
    ['/doom retry senior', 'retry', /besides --tier/],
    ['/doom retry --force', 'retry', /unknown option --force; options: --tier/],
    ['/doom retry --tier senior --tier junior', 'retry', /--tier is given twice/],
    ['/doom revise', 'revise', /needs the instructions/],
    ['/doom feedback', 'feedback', /needs \+1 or -1/],
    ['/doom feedback great', 'feedback', /must be \+1 or -1 \(got "great"\)/],
    ['/doom budget lots', 'budget', /expected a token count .* got "lots"/],
    ['/doom budget 0', 'budget', /positive whole number/],
    ['/doom budget $0', 'budget', /more than \$0/],
    ['/doom budget 99999999999999999999', 'budget', /positive whole number/],
    ['/doom promote', 'promote', /needs the agent name/],
    ['/doom promote claude now please', 'promote', /put the reason after --reason/],
    ['/doom suspend aider', 'suspend', /needs --reason/],
    ['/doom suspend aider --reason', 'suspend', /--reason needs a value/],
    // --reason takes the words after it: the agent comes first.
    ['/doom suspend --reason flaky aider', 'suspend', /needs the agent name/],
    ['/doom reinstate', 'reinstate', /needs the agent name/],
    ['/doom reinstate a b', 'reinstate', /takes one agent/],
    ['/doom reinstate a --reason x', 'reinstate', /takes no option \(got --reason\)/],
    ['/doom leaderboard weekly', 'leaderboard', /one of reward, tasks, success-rate \(got "weekly"\)/],
    ['/doom promote "claude', 'promote', /the quote " opened at character 1 is not closed/],
  ];
  for (const [body, name, problem] of usage) {
    it(`${body} → usage error`, () => {
      const parsed = only(body);
      expect(parsed).toMatchObject({ kind: 'usage', line: 1, name });
      expect(parsed.kind === 'usage' && parsed.problem).toMatch(problem);
    });
  }

  it('an unknown command is reported with its name, clipped', () => {
    expect(only('/doom deploy prod')).toEqual({ kind: 'unknown', line: 1, name: 'deploy' });
    const long = only(`/doom ${'x'.repeat(500)}`);
    expect(long.kind === 'unknown' && [...long.name].length).toBe(41);
  });
});

describe('parseComment: where commands are read', () => {
  const none: Array<[string, string]> = [
    ['prose mentioning /doom help', 'Please run /doom help later'],
    ['a quoted reply', '> /doom cancel\n\nI disagree'],
    ['a nested quote', '> > /doom cancel'],
    ['an inline code span', '`/doom cancel` is how you stop it'],
    ['a code span over two lines', 'try `x\n/doom cancel` now'],
    ['a backtick fence', '```\n/doom cancel\n```'],
    ['a tilde fence with info string', '~~~sh\n/doom cancel\n~~~'],
    ['a longer fence closed only by a long enough one', '````\n```\n/doom cancel\n````'],
    ['an unclosed fence to the end', '```\n/doom cancel'],
    ['indented code', '    /doom cancel'],
    ['a tab-indented line', '\t/doom cancel'],
    ['a word that only starts like it', '/doomed help'],
    ['a zero-width space before it', '\u200b/doom cancel'],
    ['another bot', '/dooms help'],
  ];
  for (const [what, body] of none) {
    it(`never triggers: ${what}`, () => {
      expect(read(body)).toEqual({ kind: 'ok', commands: [] });
    });
  }

  it('several commands run in order, with their line numbers; prose between is ignored', () => {
    const body = [
      'Thanks! Two things:',
      '/doom feedback +1 nice',
      '```',
      '/doom cancel',
      '```',
      '> /doom escalate',
      '   /doom retry --tier principal',
      '',
      '/doom status',
    ].join('\r\n');
    const result = read(body);
    expect(result).toEqual({
      kind: 'ok',
      commands: [
        { kind: 'command', line: 2, command: { name: 'feedback', vote: 1, text: 'nice' } },
        { kind: 'command', line: 7, command: { name: 'retry', tier: 'principal' } },
        { kind: 'command', line: 9, command: { name: 'status' } },
      ],
    });
  });

  it('a line after a closed fence or a closed span triggers again', () => {
    expect(read('```\nx\n```\n/doom help')).toMatchObject({ kind: 'ok', commands: [{ line: 4 }] });
    expect(read('`a`\n/doom help')).toMatchObject({ kind: 'ok', commands: [{ line: 2 }] });
    expect(read('an `open span\n\n/doom help')).toMatchObject({ kind: 'ok', commands: [{ line: 3 }] });
  });

  it('unicode arguments are kept as written; unicode spaces separate', () => {
    expect(only('/doom revise 日本語のコメントを残して 🙏').kind === 'command' && only('/doom revise 日本語のコメントを残して 🙏')).toMatchObject({
      command: { name: 'revise', instructions: '日本語のコメントを残して 🙏' },
    });
    expect(only('/doom\u00a0leaderboard\u2003tasks')).toMatchObject({ command: { name: 'leaderboard', type: 'tasks' } });
    expect(only('/doom feedback -1 ça ne compile pas')).toMatchObject({ command: { vote: -1, text: 'ça ne compile pas' } });
  });

  it('control characters never come back in a problem', () => {
    const parsed = only('/doom leaderboard "a\u0007`b"');
    expect(parsed.kind === 'usage' && parsed.problem).toContain('"a  b"');
  });
});

describe('parseComment: absurd lengths', () => {
  it('refuses a comment over the limit as a whole', () => {
    const result = read(`/doom help\n${'a'.repeat(LIMITS.commentChars)}`);
    expect(result).toMatchObject({ kind: 'error', problem: expect.stringMatching(/at most 65536/) });
  });

  it('refuses more commands than may run from one comment, running none', () => {
    const result = read(Array.from({ length: LIMITS.commands + 1 }, () => '/doom status').join('\n'));
    expect(result).toEqual({ kind: 'error', problem: 'the comment has 11 commands; at most 10 run from one comment' });
    expect(read(Array.from({ length: LIMITS.commands }, () => '/doom status').join('\n'))).toMatchObject({ kind: 'ok' });
  });

  it('a command line over the limit is a usage error, not truncated', () => {
    const parsed = only(`/doom revise ${'word '.repeat(1000)}`);
    expect(parsed).toMatchObject({ kind: 'usage', name: 'revise', problem: expect.stringMatching(/at most 4000/) });
  });

  it('a long run of backticks and quote markers is read without triggering', () => {
    const body = '`'.repeat(30_000) + '\n' + '> '.repeat(10_000);
    expect(read(body)).toEqual({ kind: 'ok', commands: [] });
  });
});
