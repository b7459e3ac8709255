/**
 * Whether the store can be reached, and why not. A Postgres restart, a failover or a network
 * cut must not end the bot: the pool reports lost connections here instead of crashing the
 * process, the webhook ingress answers 503 instead of acknowledging what it cannot store,
 * `/readyz` says why, and the background workers pause until a probe finds the store again.
 *
 * ```ts
 * const health = new StoreHealth({ probe: () => sql`select 1`.execute(db).then(() => {}), log });
 * health.onChange((state) => (state.reachable ? resume() : pause(state.reason)));
 * pool.on('error', (error) => health.lost(error)); // an idle connection died
 * ```
 *
 * Errors mark the store unreachable; only a successful probe marks it reachable again, so a
 * flapping store is never declared back on the strength of a query that happened to pass.
 */
import type { Logger } from '../log.js';

export type StoreHealthState = { reachable: true } | { reachable: false; reason: string; since: string };

/** What the ingress and the workers read: the state now, and its changes. */
export interface StoreAvailability {
  current(): StoreHealthState;
  onChange(listener: (state: StoreHealthState) => void): () => void;
  /** Resolves when the store is reachable (at once if it is), or when `signal` aborts. */
  whenReachable(signal?: AbortSignal): Promise<void>;
}

// Node's socket errors: the server is down, restarting, or the network between is cut.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATE: class 08 (connection exception), admin_shutdown, crash_shutdown, cannot_connect_now.
const SQLSTATE_UNAVAILABLE = new Set(['57P01', '57P02', '57P03']);
// node-postgres raises these as plain Errors, without a code.
const PG_MESSAGES = [/^Connection terminated/, /not queryable/, /^timeout exceeded when trying to connect/];

/**
 * True for an error that says the store cannot be reached (as opposed to a query the store
 * refused: a constraint, a syntax error). Only Postgres and the network fail this way; an
 * embedded SQLite file has no connection to lose.
 */
export function isStoreUnreachableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE_UNAVAILABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code))) {
    return true;
  }
  // Node reports a refused connection to every address of a host as one AggregateError.
  if (error instanceof AggregateError && error.errors.some(isStoreUnreachableError)) return true;
  return PG_MESSAGES.some((re) => re.test(error.message));
}

/** The delay before probe number `attempt` (0-based): doubling from `initialMs`, capped. */
export function probeDelay(attempt: number, backoff: { initialMs: number; maxMs: number }): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}

export interface StoreHealthOptions {
  /** Resolves when the store answers a trivial query; rejects otherwise. */
  probe: () => Promise<void>;
  log?: Logger;
  backoff?: { initialMs: number; maxMs: number };
  /** A probe that takes longer than this counts as failed (a store that hangs is not ready). */
  probeTimeoutMs?: number;
}

export class StoreHealth implements StoreAvailability {
  private state: StoreHealthState = { reachable: true };
  private readonly listeners = new Set<(state: StoreHealthState) => void>();
  private timer: NodeJS.Timeout | null = null;
  private probing: Promise<void> | null = null;
  private attempt = 0;
  private closed = false;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: StoreHealthOptions) {
    this.backoff = options.backoff ?? { initialMs: 100, maxMs: 2_000 };
    this.probeTimeoutMs = options.probeTimeoutMs ?? 5_000;
  }

  current(): StoreHealthState {
    return this.state;
  }

  onChange(listener: (state: StoreHealthState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  whenReachable(signal?: AbortSignal): Promise<void> {
    if (this.state.reachable || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const off = this.onChange((state) => state.reachable && done());
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** A connection was lost or could not be made: unreachable until a probe passes. */
  lost(error: unknown): void {
    if (this.closed) return;
    const reason = describeError(error);
    if (this.state.reachable) {
      this.state = { reachable: false, reason, since: new Date().toISOString() };
      this.options.log?.warn({ reason }, 'store unreachable: pausing until it answers again');
      this.attempt = 0;
      this.emit();
      this.scheduleProbe();
    } else {
      this.state = { ...this.state, reason };
    }
  }

  /** Marks the store unreachable when `error` says so; true when it did. */
  observe(error: unknown): boolean {
    if (!isStoreUnreachableError(error)) return false;
    this.lost(error);
    return true;
  }

  /**
   * For `/readyz`: asks the store now when it is thought reachable (an outage between two
   * queries is noticed here first); while it is unreachable, probes once at once, sharing a
   * probe already under way, so a readiness check sees a store that is back without delay.
   */
  async check(): Promise<StoreHealthState> {
    await this.probeOnce();
    return this.state;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private probeOnce(): Promise<void> {
    this.probing ??= this.runProbe().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  private async runProbe(): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => reject(new Error(`the store did not answer within ${this.probeTimeoutMs} ms`)), this.probeTimeoutMs);
    });
    try {
      await Promise.race([this.options.probe(), late]);
      if (!this.state.reachable && !this.closed) {
        this.options.log?.info({ down: this.state.reason, since: this.state.since }, 'store reachable again: resuming');
        this.state = { reachable: true };
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.emit();
      }
    } catch (error) {
      // Whatever the cause, a store that cannot answer `select 1` is not ready.
      this.lost(error);
    } finally {
      clearTimeout(timeout);
    }
  }

  private scheduleProbe(): void {
    if (this.closed || this.state.reachable || this.timer) return;
    const delay = probeDelay(this.attempt++, this.backoff);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probeOnce().then(() => this.scheduleProbe());
    }, delay);
    // The prober alone must not keep a stopping process alive.
    this.timer.unref();
  }

  private emit(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(this.state);
      } catch (error) {
        this.options.log?.error({ err: error }, 'store health listener failed');
      }
    }
  }
}
