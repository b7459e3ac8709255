/** The nightly job: croner schedule, error handling, and what a run does after tier changes. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { cronProblem } from '../../src/config/schema.js';
import { getAgent } from '../../src/store/agents.js';
import type { DomainEvent } from '../../src/events.js';
import { nightlyTierRecompute, scheduleTierRecompute } from '../../src/tiers/schedule.js';
import { freshStore, shippedConfig, type TestStore } from './fixtures.js';

const quietLog = () => ({ info: vi.fn(), warn: vi.fn(), error: vi.fn() });

describe('tiers.recompute_cron', () => {
  const parse = (value: string) => parseConfigText(`[tiers]\nrecompute_cron = ${JSON.stringify(value)}\n`, 'doom-rlvr.toml');

  it('defaults to 3 am every night', () => {
    expect(parseConfigText('', 'doom-rlvr.toml').tiers.recompute_cron).toBe('0 3 * * *');
    expect(shippedConfig().tiers.recompute_cron).toBe('0 3 * * *');
  });

  it('accepts cron patterns with five or six fields and nicknames', () => {
    for (const cron of ['30 2 * * 1-5', '*/15 * * * *', '0 0 3 * * *', '@daily', '@weekly']) expect(parse(cron).tiers.recompute_cron).toBe(cron);
  });

  it.each([
    ['nope', 'doom-rlvr.toml: tiers.recompute_cron: invalid cron expression "nope": invalid configuration format (\'nope\'), exactly five or six space separated parts are required.'],
    ['61 3 * * *', 'doom-rlvr.toml: tiers.recompute_cron: invalid cron expression "61 3 * * *": Invalid value for minute: 61'],
    ['0 3 * *', 'doom-rlvr.toml: tiers.recompute_cron: invalid cron expression "0 3 * *": invalid configuration format (\'0 3 * *\'), exactly five or six space separated parts are required.'],
    ['0 0 30 2 *', 'doom-rlvr.toml: tiers.recompute_cron: invalid cron expression "0 0 30 2 *": the pattern never fires'],
    ['2030-01-01T03:00:00', 'doom-rlvr.toml: tiers.recompute_cron: invalid cron expression "2030-01-01T03:00:00": expected a recurring cron pattern, not a date'],
  ])('refuses %s with a ConfigError naming the field', (cron, message) => {
    expect(() => parse(cron)).toThrow(ConfigError);
    expect(() => parse(cron)).toThrow(message);
  });

  it('refuses a value that is not a string', () => {
    expect(() => parseConfigText('[tiers]\nrecompute_cron = 3\n', 'x.toml')).toThrow(/^x\.toml: tiers\.recompute_cron: /);
  });

  it('cronProblem says null for a good pattern', () => {
    expect(cronProblem('0 3 * * *')).toBeNull();
  });
});

describe('scheduleTierRecompute', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(2025, 7, 12, 2, 59, 0));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at the scheduled time until stopped', async () => {
    const log = quietLog();
    const run = vi.fn(async () => {});
    const job = scheduleTierRecompute({ cron: '0 3 * * *', run, log });
    expect(job.nextRun()).toEqual(new Date(2025, 7, 12, 3, 0, 0));
    expect(log.info).toHaveBeenCalledWith({ cron: '0 3 * * *', next: new Date(2025, 7, 12, 3, 0, 0).toISOString() }, 'tier recompute scheduled');

    await vi.advanceTimersByTimeAsync(59_000);
    expect(run).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(24 * 3600_000);
    expect(run).toHaveBeenCalledTimes(2);

    job.stop();
    expect(job.nextRun()).toBeNull();
    await vi.advanceTimersByTimeAsync(2 * 24 * 3600_000);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('logs a failed run and keeps the schedule', async () => {
    const log = quietLog();
    const failure = new Error('database is locked');
    const run = vi.fn().mockRejectedValueOnce(failure).mockResolvedValue(undefined);
    const job = scheduleTierRecompute({ cron: '* * * * *', run, log });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.error).toHaveBeenCalledWith({ err: failure }, 'tier recompute failed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(run).toHaveBeenCalledTimes(2);
    job.stop();
  });

  it('skips a run while the previous one is still going', async () => {
    const log = quietLog();
    let finish!: () => void;
    const run = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const job = scheduleTierRecompute({ cron: '* * * * *', run, log });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(61_000); // croner reports the skip on the next tick
    expect(run).toHaveBeenCalledTimes(1);
    expect(log.warn).toHaveBeenCalledWith({ cron: '* * * * *' }, 'tier recompute still running; skipping this run');
    finish();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(run).toHaveBeenCalledTimes(2);
    job.stop();
  });

  it('refuses an invalid pattern', () => {
    expect(() => scheduleTierRecompute({ cron: 'every night', run: async () => {}, log: quietLog() })).toThrow(
      /^tiers\.recompute_cron: invalid cron expression "every night": /,
    );
  });
});

describe('nightlyTierRecompute', () => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore();
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('recomputes as source nightly, logs the changes and lets routing follow', async () => {
    const db = store.db;
    const now = new Date().toISOString();
    await db
      .insertInto('rewards')
      .values(
        // Enough for the bounds to move them: three perfect rewards, five bad ones.
        [
          ...Array.from({ length: 3 }, () => ['agent-bugfix-junior', 5]),
          ...Array.from({ length: 5 }, () => ['agent-bugfix-senior', -1]),
        ].map(([agent, reward], i) => ({
          task_id: i + 1,
          agent_name: agent as string,
          reward: reward as number,
          components: '{}',
          weights: '{}',
          evaluator_version: 'test',
          hook_duration_ms: 0,
          kind: 'final' as const,
          degraded: 0,
          created_at: now,
          updated_at: now,
          settled_at: now,
        })),
      )
      .execute();
    const log = quietLog();
    const said: DomainEvent[] = [];
    await nightlyTierRecompute({ db, config: shippedConfig(), log, events: { emit: async (e) => void said.push(e) } })();

    expect((await getAgent(db, 'agent-bugfix-junior'))!.tier).toBe('principal');
    expect((await getAgent(db, 'agent-bugfix-senior'))!.tier).toBe('suspended');
    const sources = await db.selectFrom('tier_history').select(['agent_name', 'source']).where('source', '!=', 'config').orderBy('id').execute();
    expect(sources).toEqual([
      { agent_name: 'agent-bugfix-junior', source: 'nightly' },
      { agent_name: 'agent-bugfix-senior', source: 'nightly' },
    ]);
    const actors = await db.selectFrom('audit_log').select('actor').where('event', '=', 'agent.tier_changed').execute();
    expect(actors.map((a) => a.actor)).toEqual(['scheduler', 'scheduler']);

    // What follows from each change (release, route) is the tier.changed handler's, in app.ts.
    expect(said).toEqual([
      { kind: 'tier.changed', agent: 'agent-bugfix-junior', from: 'junior', to: 'principal', source: 'nightly', actor: 'scheduler' },
      { kind: 'tier.changed', agent: 'agent-bugfix-senior', from: 'senior', to: 'suspended', source: 'nightly', actor: 'scheduler' },
    ]);
    expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ agents: 9, changed: 2, updated: 2 }), 'tier recompute done');
    expect(log.info).toHaveBeenCalledWith(
      { agent: 'agent-bugfix-senior', from: 'senior', to: 'suspended', reason: 'mean -1.00 ± 0.59 (n=5): upper bound -0.41 under 1.75 (senior less the 0.25 margin) → suspended' },
      'tier changed',
    );
  });

  it('says nothing when nothing changed', async () => {
    const said: DomainEvent[] = [];
    await nightlyTierRecompute({ db: store.db, config: shippedConfig(), log: quietLog(), events: { emit: async (e) => void said.push(e) } })();
    expect(said).toEqual([]);
  });
});
