/**
 * The one retry policy for every forge HTTP call (Octokit's retry and throttling plugins are
 * switched off so behaviour is defined, and tested, here only).
 *
 * A request is sent again only when that cannot apply it twice:
 * - the forge said "not now", which proves it did nothing: 429, GitHub's rate-limit 403
 *   (`x-ratelimit-remaining: 0`, a `Retry-After`, or a body saying "secondary rate limit"),
 *   or a 503 with `Retry-After` — whatever the method;
 * - the method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS) and the answer is a 5xx, the
 *   connection failed, or the attempt timed out.
 *
 * A write (POST, PATCH) answered 500, 502, 503 without `Retry-After` or 504, whose connection
 * dropped, or that timed out, is NOT resent: the forge may have created the comment or merge
 * request before the answer was lost. The caller gets the error and looks for the result
 * first (see `mayHaveBeenApplied` in errors.ts).
 *
 * Waits follow GitHub's documented rate-limit rules: `Retry-After` when present, never cut
 * short; else `x-ratelimit-reset` when `x-ratelimit-remaining` is 0; else at least a minute,
 * doubling while the forge keeps limiting us. A wait longer than `maxInlineWaitMs` is not
 * slept here: a RateLimitedError carries it to the inbox, which reschedules the delivery.
 * While a credential is limited, further requests with it are not sent at all until the wait
 * is over (GitHub may ban an integration that keeps calling while limited).
 *
 * Every attempt has its own timeout (`timeoutMs`), combined with the caller's signal.
 * Streamed request bodies are buffered once so every attempt sends the same bytes.
 */
import { createHash } from 'node:crypto';
import { ForgeTimeoutError, RateLimitedError } from './errors.js';

export interface RetryOptions {
  /** Extra attempts after the first one. Default 3. */
  retries?: number;
  /** First backoff step after a 5xx or a network error; doubles per attempt. Default 500 ms. */
  baseDelayMs?: number;
  /** Upper bound of our own backoff (never of a wait the forge asks for). Default 30 s. */
  maxBackoffMs?: number;
  /** Longest wait slept inside a call; a longer one throws RateLimitedError. Default 5 s. */
  maxInlineWaitMs?: number;
  /** Per-attempt timeout, covering the answer's body too. Default 30 s. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock for `Retry-After` dates and rate-limit resets; injectable for tests. */
  now?: () => number;
  /** Jitter source in [0, 1); injectable for tests. */
  random?: () => number;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** GitHub: "wait for at least one minute before retrying", then exponentially longer. */
export const SECONDARY_LIMIT_MIN_WAIT_MS = 60_000;
const SECONDARY_LIMIT_MAX_WAIT_MS = 30 * 60_000;

/** What the answer says, before any decision: which kind of "not now", or neither. */
export type AnswerKind = 'ok-or-final' | 'primary-limit' | 'secondary-limit' | 'unavailable' | 'server-error';

export interface AnswerFacts {
  status: number;
  /** `Retry-After` as a wait in ms, or null when absent or unreadable. */
  retryAfterMs: number | null;
  /** `x-ratelimit-reset` / `ratelimit-reset` as a wait in ms when the remaining count is 0. */
  resetInMs: number | null;
  remainingZero: boolean;
  /** The body says "secondary rate limit" (GitHub's wording). */
  secondaryMessage: boolean;
}

export function classify(facts: AnswerFacts): AnswerKind {
  const { status } = facts;
  if (status === 429) return facts.remainingZero ? 'primary-limit' : 'secondary-limit';
  if (status === 403 && facts.remainingZero) return 'primary-limit';
  if (status === 403 && (facts.retryAfterMs !== null || facts.secondaryMessage)) return 'secondary-limit';
  if (status === 503 && facts.retryAfterMs !== null) return 'unavailable';
  if (status >= 500 && status <= 599) return 'server-error';
  return 'ok-or-final';
}

export type Decision =
  /** Hand the answer to the caller as it is. */
  | { kind: 'return' }
  /** Send again after `waitMs` (a 5xx on an idempotent request). */
  | { kind: 'retry'; waitMs: number }
  /** Not applied; the next request with this credential must wait `waitMs`. */
  | { kind: 'limited'; waitMs: number; secondary: boolean };

export interface DecisionInput {
  facts: AnswerFacts;
  idempotent: boolean;
  /** 0 for the first attempt. */
  attempt: number;
  retries: number;
  /** Secondary limits met in a row with this credential before this one. */
  secondaryStreak: number;
  /** Our own backoff for this attempt. */
  backoffMs: number;
}

/** Decides what to do with one answer. Pure: every input is data. */
export function decideAnswer(input: DecisionInput): Decision {
  const { facts } = input;
  switch (classify(facts)) {
    case 'primary-limit':
      return {
        kind: 'limited',
        waitMs: facts.retryAfterMs ?? facts.resetInMs ?? secondaryWait(input.secondaryStreak),
        secondary: false,
      };
    case 'secondary-limit':
      return { kind: 'limited', waitMs: facts.retryAfterMs ?? secondaryWait(input.secondaryStreak), secondary: true };
    case 'unavailable':
      return { kind: 'limited', waitMs: facts.retryAfterMs ?? input.backoffMs, secondary: false };
    case 'server-error':
      if (!input.idempotent || input.attempt >= input.retries) return { kind: 'return' };
      return { kind: 'retry', waitMs: facts.retryAfterMs ?? input.backoffMs };
    case 'ok-or-final':
      return { kind: 'return' };
  }
}

/** At least a minute, doubling per secondary limit met in a row, up to half an hour. */
export function secondaryWait(streak: number): number {
  return Math.min(SECONDARY_LIMIT_MAX_WAIT_MS, SECONDARY_LIMIT_MIN_WAIT_MS * 2 ** Math.max(0, streak));
}

export type FailureDecision = { kind: 'throw' } | { kind: 'retry'; waitMs: number };

/**
 * A request that got no answer: the connection dropped or the attempt timed out. Only an
 * idempotent request is sent again; the caller's own abort is never retried.
 */
export function decideFailure(input: { idempotent: boolean; attempt: number; retries: number; callerAborted: boolean; backoffMs: number }): FailureDecision {
  if (input.callerAborted || !input.idempotent || input.attempt >= input.retries) return { kind: 'throw' };
  return { kind: 'retry', waitMs: input.backoffMs };
}

interface Limit {
  until: number;
  status: number;
  streak: number;
}

/** Rate-limit state per credential: GitHub counts limits per token, not per process. */
class Limits {
  readonly #byKey = new Map<string, Limit>();

  get(key: string): Limit | undefined {
    return this.#byKey.get(key);
  }

  limited(key: string, status: number, until: number, secondary: boolean): void {
    const previous = this.#byKey.get(key);
    const streak = secondary ? (previous?.streak ?? 0) + 1 : (previous?.streak ?? 0);
    this.#byKey.set(key, { until, status, streak });
    if (this.#byKey.size > 1000) this.prune(until);
  }

  /** An answer that was not a limit ends the streak. */
  cleared(key: string): void {
    this.#byKey.delete(key);
  }

  private prune(now: number): void {
    for (const [key, limit] of this.#byKey) if (limit.until < now - SECONDARY_LIMIT_MAX_WAIT_MS) this.#byKey.delete(key);
  }
}

/** Wraps `fetch` with the policy above. */
export function retryingFetch(inner: typeof fetch, options: RetryOptions = {}): typeof fetch {
  const retries = options.retries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const maxInlineWaitMs = options.maxInlineWaitMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const limits = new Limits();

  const backoff = (attempt: number): number => {
    const ceiling = Math.min(maxBackoffMs, baseDelayMs * 2 ** attempt);
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  };

  return async function fetchWithRetry(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
    const template = input instanceof Request ? input : null;
    const method = (init?.method ?? template?.method ?? 'GET').toUpperCase();
    const url = template?.url ?? String(input);
    const idempotent = IDEMPOTENT_METHODS.has(method);
    const sendInit = await resendable(init);
    const callerSignal = sendInit?.signal ?? template?.signal ?? undefined;
    const key = credentialKey(template, sendInit);

    for (let attempt = 0; ; attempt++) {
      if (attempt === 0) await waitOutLimit(key, method, url);
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
      let response: Response;
      let facts: AnswerFacts;
      try {
        response = await inner(template ? template.clone() : input, { ...sendInit, signal });
        facts = await answerFacts(response, now());
      } catch (error) {
        const timedOut = timeout.aborted && !callerSignal?.aborted;
        const decision = decideFailure({ idempotent, attempt, retries, callerAborted: callerSignal?.aborted ?? false, backoffMs: backoff(attempt) });
        if (decision.kind === 'throw') throw timedOut ? Object.assign(new ForgeTimeoutError(method, url, timeoutMs), { cause: error }) : error;
        await sleep(decision.waitMs);
        continue;
      }

      const decision = decideAnswer({ facts, idempotent, attempt, retries, secondaryStreak: limits.get(key)?.streak ?? 0, backoffMs: backoff(attempt) });
      if (decision.kind === 'return') {
        if (facts.status < 500) limits.cleared(key);
        return response;
      }
      await response.body?.cancel().catch(() => undefined);
      if (decision.kind === 'limited') {
        limits.limited(key, response.status, now() + decision.waitMs, decision.secondary);
        if (attempt >= retries || decision.waitMs > maxInlineWaitMs) {
          throw new RateLimitedError(response.status, method, url, decision.waitMs);
        }
      }
      await sleep(decision.waitMs);
    }
  };

  /**
   * Before a call's first request: sleeps out a short limit another call met with this
   * credential; a long one throws without sending, so a limited credential makes no calls
   * until its wait is over.
   */
  async function waitOutLimit(key: string, method: string, url: string): Promise<void> {
    const limit = limits.get(key);
    const waitMs = limit ? limit.until - now() : 0;
    if (!limit || waitMs <= 0) return;
    if (waitMs > maxInlineWaitMs) throw new RateLimitedError(limit.status, method, url, waitMs);
    await sleep(waitMs);
  }
}

/**
 * Which credential a request uses, hashed (the map must not hold tokens). Requests without
 * one share the empty key.
 */
function credentialKey(template: Request | null, init: RequestInit | undefined): string {
  const headers = new Headers(init?.headers ?? template?.headers);
  const credential = headers.get('authorization') ?? headers.get('private-token') ?? '';
  return credential === '' ? '' : createHash('sha256').update(credential).digest('hex');
}

/** Reads what the decision needs; the body only of a 403 without rate-limit headers, from a clone. */
async function answerFacts(response: Response, nowMs: number): Promise<AnswerFacts> {
  const headers = response.headers;
  const remainingZero = (headers.get('x-ratelimit-remaining') ?? headers.get('ratelimit-remaining')) === '0';
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), nowMs);
  const reset = headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset');
  const resetInMs = remainingZero && reset !== null && /^\d+$/.test(reset.trim()) ? Math.max(0, Number(reset) * 1000 - nowMs) : null;
  let secondaryMessage = false;
  if (response.status === 403 && !remainingZero && retryAfterMs === null) {
    secondaryMessage = /secondary rate limit/i.test(await response.clone().text());
  }
  return { status: response.status, retryAfterMs, resetInMs, remainingZero, secondaryMessage };
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now; null when absent or unreadable. */
function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/** A one-shot stream body cannot be sent twice: read it into memory once. */
async function resendable(init: RequestInit | undefined): Promise<RequestInit | undefined> {
  if (!init?.body || !(init.body instanceof ReadableStream)) return init;
  const buffered = await new Response(init.body).arrayBuffer();
  const { duplex: _duplex, ...rest } = init as RequestInit & { duplex?: string };
  return { ...rest, body: buffered };
}
