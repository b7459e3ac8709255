/**
 * The nightly tier recompute: a cron job (croner) in the server process. `doom serve` starts
 * it with `[tiers] recompute_cron`; `doom tiers update` runs the same recompute by hand.
 *
 *   const job = scheduleTierRecompute({
 *     cron: config.tiers.recompute_cron,
 *     run: nightlyTierRecompute({ db: store.db, config, log, events }),
 *     log,
 *   });
 *   // on shutdown: job.stop()
 */
import { Cron } from 'croner';
import type { Kysely } from 'kysely';
import { cronProblem, type Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/schema.js';
import type { EventSink } from '../events.js';
import { recomputeAllTiers, type RecomputeResult } from './recompute.js';
import { announceTierChanges } from './service.js';

export interface TierSchedule {
  /** Stops the job for good; a run under way finishes. */
  stop(): void;
  /** When the job fires next, or null once stopped. */
  nextRun(): Date | null;
}

/**
 * Runs `run` on the cron schedule. A run still going when the next one is due is skipped (a
 * warning says so), a failing run is logged and the schedule carries on. The timer does not
 * keep the process alive by itself.
 */
export function scheduleTierRecompute(opts: {
  cron: string;
  run: () => Promise<void>;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** IANA time zone for the pattern; the server's local time when absent. */
  timezone?: string;
}): TierSchedule {
  const problem = cronProblem(opts.cron);
  if (problem) throw new RangeError(`tiers.recompute_cron: invalid cron expression "${opts.cron}": ${problem}`);
  const { log } = opts;
  const job = new Cron(
    opts.cron,
    {
      protect: () => log.warn({ cron: opts.cron }, 'tier recompute still running; skipping this run'),
      unref: true,
      ...(opts.timezone ? { timezone: opts.timezone } : {}),
    },
    async () => {
      try {
        await opts.run();
      } catch (error) {
        log.error({ err: error }, 'tier recompute failed');
      }
    },
  );
  log.info({ cron: opts.cron, next: job.nextRun()?.toISOString() ?? null }, 'tier recompute scheduled');
  return {
    stop: () => job.stop(),
    nextRun: () => job.nextRun(),
  };
}

/**
 * The nightly run: recompute every agent (source `nightly`), log what changed, and say
 * `tier.changed` for each agent that moved, so routing follows (see events.ts).
 */
export function nightlyTierRecompute(deps: {
  db: Kysely<Database>;
  config: Config;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  events: EventSink;
  actor?: string;
}): () => Promise<void> {
  const actor = deps.actor ?? 'scheduler';
  return async () => {
    const result = await recomputeAllTiers(deps.db, deps.config, { source: 'nightly', actor });
    logResult(deps.log, result);
    await announceTierChanges(deps.events, result.changed, { source: 'nightly', actor });
  };
}

function logResult(log: Pick<Logger, 'info'>, result: RecomputeResult): void {
  log.info(
    { agents: result.agents, changed: result.changed.length, updated: result.updated, durationMs: Math.round(result.durationMs) },
    'tier recompute done',
  );
  for (const c of result.changed) log.info({ agent: c.name, from: c.from, to: c.to, reason: c.reason }, 'tier changed');
}
