import { describe, expect, it } from 'vitest';
import { leaderboardTable, statusText, tierInterval } from '../../src/commands/actions.js';
import { commandMarker, renderReply, type Outcome } from '../../src/commands/reply.js';
import { parseConfigText } from '../../src/config/load.js';
import type { AgentRow, AssignmentRow, TaskRow } from '../../src/store/schema.js';

const config = parseConfigText('', 'c.toml');

function agent(name: string, extra: Partial<AgentRow> = {}): AgentRow {
  return {
    name,
    tier: 'junior',
    specializations: '[]',
    max_concurrent_tasks: 1,
    config: '{}',
    rolling_avg: 0,
    total_tasks: 0,
    completed_tasks: 0,
    failed_tasks: 0,
    manual_override: null,
    tier_since: null,
    last_assigned_at: null,
    active: 1,
    created_at: '2025-03-01T00:00:00.000Z',
    updated_at: '2025-03-01T00:00:00.000Z',
    ...extra,
  };
}

describe('renderReply', () => {
  const cases: Array<[Outcome, string]> = [
    [{ kind: 'done', name: 'status', text: 'all good' }, '**`/doom status`**\n\nall good'],
    [{ kind: 'failed', name: 'promote', message: 'agent "x" does not exist' }, '**`/doom promote`** did nothing: agent "x" does not exist'],
    [{ kind: 'usage', name: 'retry', problem: '--tier needs a value' }, '**`/doom retry`**: --tier needs a value.\n\nUsage: `/doom retry [--tier junior|senior|principal]`'],
    [{ kind: 'refused', name: 'suspend', role: 'maintain', message: 'bob has only write access; maintain access is needed' }, '**`/doom suspend`** refused: bob has only write access; maintain access is needed. It is for maintainers'],
    [{ kind: 'unknown', name: 'deploy' }, '**`/doom deploy`** is not a command.\n\nHELP'],
    [{ kind: 'not-handled', name: 'cancel' }, '**`/doom cancel`** is understood but not carried out'],
    [{ kind: 'interrupted', name: 'promote' }, '**`/doom promote`** was interrupted'],
  ];
  for (const [outcome, expected] of cases) {
    it(`${outcome.kind}`, () => {
      expect(renderReply('alice', [{ line: 1, outcome }], 'HELP')).toContain(expected);
    });
  }

  it('addresses the author first and keeps the order', () => {
    const body = renderReply('alice', [
      { line: 1, outcome: { kind: 'done', name: 'help', text: 'a' } },
      { line: 3, outcome: { kind: 'done', name: 'status', text: 'b' } },
    ], 'HELP');
    expect(body.startsWith('@alice\n\n')).toBe(true);
    expect(body.indexOf('help')).toBeLessThan(body.indexOf('status'));
    expect(commandMarker({ id: 12, kind: 'comment' })).toBe('<!-- doom-rlvr:command:12 -->');
    // A review and an inline review comment may share an id with an issue comment.
    expect(commandMarker({ id: 12, kind: 'review' })).toBe('<!-- doom-rlvr:command:review:12 -->');
    expect(commandMarker({ id: 12, kind: 'review_comment' })).toBe('<!-- doom-rlvr:command:review_comment:12 -->');
  });
});

describe('status and leaderboard texts', () => {
  it('tier intervals follow the thresholds', () => {
    expect(tierInterval('principal', config.tiers)).toBe('(average ≥ 4)');
    expect(tierInterval('senior', config.tiers)).toBe('(average in [2, 4))');
    expect(tierInterval('junior', config.tiers)).toBe('(average in [0, 2))');
    expect(tierInterval('suspended', config.tiers)).toBe('(suspended)');
  });

  it('status names the task, agent, run, usage and MR', () => {
    const task = { id: 7, status: 'in_progress', pending_reason: null, min_tier: null, assigned_agent: 'agent-bugfix-senior', tokens_used: 1200, max_tokens: 100000, cost_usd: 0.4, pr_url: null, error_message: null } as TaskRow;
    const run = { id: 3, status: 'in_progress', outcome: null } as AssignmentRow;
    const text = statusText({ task, agent: agent('agent-bugfix-senior', { tier: 'senior', rolling_avg: 3.25 }), run, interval: 'reward 3.25 in [2.1, 4.4] over 4 settled (mean ± 1.96 SE)' }, config.tiers);
    expect(text).toBe(
      [
        '- task: #7, **in_progress**',
        '- agent: `agent-bugfix-senior`, senior (average in [2, 4)), rolling average 3.25; reward 3.25 in [2.1, 4.4] over 4 settled (mean ± 1.96 SE)',
        '- run: #3 in_progress',
        '- used so far: 1200 tokens of 100000 per run, $0.40',
        '- merge request: none yet',
      ].join('\n'),
    );
  });

  it('status of a failed task names its floor, its latest run and agent, and the error', () => {
    const task = { id: 8, status: 'failed', pending_reason: null, min_tier: 'senior', assigned_agent: null, tokens_used: 0, max_tokens: 5, cost_usd: 0, pr_url: 'https://x/pull/2', error_message: 'stopped:\n passed the budget' } as TaskRow;
    const run = { id: 4, status: 'failed', outcome: 'token_limit' } as AssignmentRow;
    const text = statusText({ task, agent: agent('agent-bugfix-junior'), run, interval: null }, config.tiers);
    expect(text.split('\n')).toEqual([
      '- task: #8, **failed**, senior or above',
      '- agent: `agent-bugfix-junior` (latest run), junior (average in [0, 2)), rolling average 0.00',
      '- run: #4 failed (token_limit)',
      '- used so far: 0 tokens of 5 per run, $0.00',
      '- merge request: https://x/pull/2',
      '- last error: stopped: passed the budget',
    ]);
  });

  it('the leaderboard ranks by the type asked, ties by name', () => {
    const agents = [
      agent('b', { rolling_avg: 1, total_tasks: 4, completed_tasks: 1 }),
      agent('a', { rolling_avg: 1, total_tasks: 2, completed_tasks: 2 }),
      agent('c', { rolling_avg: 3, total_tasks: 0 }),
    ];
    const order = (type: 'reward' | 'tasks' | 'success-rate') =>
      leaderboardTable(agents, type).split('\n').filter((l) => /^\| \d/.test(l)).map((l) => l.split('`')[1]);
    expect(order('reward')).toEqual(['c', 'a', 'b']);
    expect(order('tasks')).toEqual(['b', 'a', 'c']);
    expect(order('success-rate')).toEqual(['a', 'b', 'c']);
    expect(leaderboardTable([], 'reward')).toBe('No agents yet.');
  });
});
