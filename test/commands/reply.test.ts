import { describe, expect, it } from 'vitest';
import { leaderboardTable, statusText, tierInterval } from '../../src/commands/actions.js';
import { commandMarker, renderReply, type Outcome } from '../../src/commands/reply.js';
import { parseConfigText } from '../../src/config/load.js';
import type { AgentRow, TaskRow } from '../../src/store/schema.js';

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
    expect(commandMarker(12)).toBe('<!-- doom-rlvr:command:12 -->');
  });
});

describe('status and leaderboard texts', () => {
  it('tier intervals follow the thresholds', () => {
    expect(tierInterval('principal', config.tiers)).toBe('(average ≥ 4)');
    expect(tierInterval('senior', config.tiers)).toBe('(average in [2, 4))');
    expect(tierInterval('junior', config.tiers)).toBe('(average in [0, 2))');
    expect(tierInterval('suspended', config.tiers)).toBe('(suspended)');
  });

  it('status names the task, agent, usage and MR', () => {
    const task = { id: 7, status: 'in_progress', pending_reason: null, tokens_used: 1200, max_tokens: 100000, cost_usd: 0.4, pr_url: null, error_message: null } as TaskRow;
    const text = statusText(task, agent('agent-bugfix-senior', { tier: 'senior', rolling_avg: 3.25 }), config.tiers);
    expect(text).toBe(
      [
        '- task: #7, **in_progress**',
        '- agent: `agent-bugfix-senior`, senior (average in [2, 4)), rolling average 3.25',
        '- used so far: 1200 tokens of 100000, $0.40',
        '- merge request: none yet',
      ].join('\n'),
    );
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
