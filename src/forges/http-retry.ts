/**
 * The one retry policy for every forge HTTP call (Octokit's retry and throttling plugins are
 * switched off so behaviour is defined, and tested, here only).
 */

export interface RetryOptions {
  /** Extra attempts after the first one. Default 3. */
  retries?: number;
  /** First backoff step; doubles per attempt. Default 500 ms. */
  baseDelayMs?: number;
  /** Upper bound of any single wait, including one a server asks for. Default 30 s. */
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock for `Retry-After` dates and `x-ratelimit-reset`; injectable for tests. */
  now?: () => number;
  /** Jitter source in [0, 1); injectable for tests. */
  random?: () => number;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Statuses that say the server did not act on the request, so resending cannot duplicate it. */
const NOT_APPLIED_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Wraps `fetch` with retries, exponential backoff and jitter.
 *
 * A request is sent again only when that cannot apply it twice:
 * - the response says it was not applied: 429, 502, 503, 504, or GitHub's rate-limit 403
 *   (`x-ratelimit-remaining: 0` or a `Retry-After`), whatever the method;
 * - the method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS) and the response is any other
 *   5xx or the connection failed.
 *
 * A POST or PATCH answered 500, or whose connection dropped, is NOT resent: the server may
 * have created the comment or pull request already, and sending it again would duplicate it.
 * The caller sees the error and the next attempt goes through the idempotent upsert path.
 *
 * The wait honours `Retry-After` (seconds or HTTP date) and, when `x-ratelimit-remaining` is
 * 0, GitHub's `x-ratelimit-reset` (epoch seconds); either is capped by `maxDelayMs`.
 * Streamed request bodies are buffered once so every attempt sends the same bytes.
 */
export function retryingFetch(inner: typeof fetch, options: RetryOptions = {}): typeof fetch {
  const retries = options.retries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;

  const backoff = (attempt: number): number => {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  };

  return async function fetchWithRetry(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
    const template = input instanceof Request ? input : null;
    const method = (init?.method ?? template?.method ?? 'GET').toUpperCase();
    const idempotent = IDEMPOTENT_METHODS.has(method);
    const sendInit = await resendable(init);

    for (let attempt = 0; ; attempt++) {
      const last = attempt >= retries;
      let response: Response;
      try {
        response = await inner(template ? template.clone() : input, sendInit);
      } catch (error) {
        if (last || !idempotent || sendInit?.signal?.aborted) throw error;
        await sleep(backoff(attempt));
        continue;
      }

      const rateLimited = isRateLimited(response);
      const retryable =
        rateLimited ||
        NOT_APPLIED_STATUSES.has(response.status) ||
        (idempotent && response.status >= 500 && response.status <= 599);
      if (!retryable || last) return response;

      const asked = serverDelay(response, now());
      await response.body?.cancel().catch(() => undefined);
      await sleep(asked === null ? backoff(attempt) : Math.min(asked, maxDelayMs));
    }
  };
}

/** GitHub answers an exhausted primary or secondary rate limit with 403 as often as 429. */
function isRateLimited(response: Response): boolean {
  if (response.status === 429) return true;
  return (
    response.status === 403 &&
    (response.headers.get('x-ratelimit-remaining') === '0' || response.headers.has('retry-after'))
  );
}

/** The wait the server asked for, in ms, or null when it did not say. */
function serverDelay(response: Response, nowMs: number): number | null {
  const retryAfter = response.headers.get('retry-after');
  if (retryAfter !== null) {
    const trimmed = retryAfter.trim();
    if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
    const date = Date.parse(trimmed);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  const reset = response.headers.get('x-ratelimit-reset');
  if (response.headers.get('x-ratelimit-remaining') === '0' && reset !== null && /^\d+$/.test(reset)) {
    return Math.max(0, Number(reset) * 1000 - nowMs);
  }
  return null;
}

/** A one-shot stream body cannot be sent twice: read it into memory once. */
async function resendable(init: RequestInit | undefined): Promise<RequestInit | undefined> {
  if (!init?.body || !(init.body instanceof ReadableStream)) return init;
  const buffered = await new Response(init.body).arrayBuffer();
  const { duplex: _duplex, ...rest } = init as RequestInit & { duplex?: string };
  return { ...rest, body: buffered };
}
