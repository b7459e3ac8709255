import { describe, expect, it } from 'vitest';
import { ForgeTimeoutError, RateLimitedError } from '../../src/forges/errors.js';
import { classify, decideAnswer, decideFailure, retryingFetch, secondaryWait, type AnswerFacts, type RetryOptions } from '../../src/forges/http-retry.js';

interface Sent {
  method: string;
  url: string;
  body: string | null;
}

/** A fake fetch answering from a script; records what each attempt sent. */
function scripted(answers: Array<Response | Error>) {
  const sent: Sent[] = [];
  const inner: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    sent.push({ method: request.method, url: request.url, body: request.body ? await request.text() : null });
    const next = answers.shift();
    if (!next) throw new Error('no more scripted answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { inner, sent };
}

function harness(answers: Array<Response | Error>, options: RetryOptions = {}) {
  const { inner, sent } = scripted(answers);
  const sleeps: number[] = [];
  const fetchWithRetry = retryingFetch(inner, {
    baseDelayMs: 100,
    maxBackoffMs: 10_000,
    maxInlineWaitMs: 10_000,
    sleep: async (ms) => void sleeps.push(ms),
    now: () => Date.parse('2025-01-01T00:00:00Z'),
    ...options,
  });
  return { fetchWithRetry, sent, sleeps };
}

const status = (code: number, headers: Record<string, string> = {}) => new Response(`status ${code}`, { status: code, headers });
const URL_ = 'https://api.example.com/thing';

describe('retryingFetch', () => {
  it('retries a 502 with backoff and returns the success', async () => {
    const { fetchWithRetry, sent, sleeps } = harness([status(502), status(200)]);
    const response = await fetchWithRetry(URL_);
    expect(response.status).toBe(200);
    expect(sent).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50); // half of the 100 ms step…
    expect(sleeps[0]).toBeLessThanOrEqual(100); // …plus jitter up to the whole step
  });

  it('doubles the backoff per attempt and gives up after `retries`, returning the last answer', async () => {
    const { fetchWithRetry, sent, sleeps } = harness([status(503), status(503), status(503)], { retries: 2, random: () => 0.999 });
    const response = await fetchWithRetry(URL_);
    expect(response.status).toBe(503);
    expect(sent).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('honours Retry-After in seconds on a 429', async () => {
    const { fetchWithRetry, sleeps } = harness([status(429, { 'retry-after': '7' }), status(200)]);
    expect((await fetchWithRetry(URL_, { method: 'POST', body: '{}' })).status).toBe(200);
    expect(sleeps).toEqual([7000]);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { fetchWithRetry, sleeps } = harness([status(503, { 'retry-after': 'Wed, 01 Jan 2025 00:00:08 GMT' }), status(200)]);
    await fetchWithRetry(URL_);
    expect(sleeps).toEqual([8000]);
  });

  it('never cuts a long Retry-After short: it throws RateLimitedError carrying the whole wait', async () => {
    const { fetchWithRetry, sent, sleeps } = harness([status(429, { 'retry-after': '3600' }), status(200)]);
    const error = await fetchWithRetry(URL_).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ status: 429, method: 'GET', retryAfterMs: 3_600_000 });
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("waits for GitHub's x-ratelimit-reset on an exhausted rate limit (403)", async () => {
    const reset = String(Date.parse('2025-01-01T00:00:05Z') / 1000);
    const { fetchWithRetry, sent, sleeps } = harness([
      status(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }),
      status(200),
    ]);
    expect((await fetchWithRetry(URL_)).status).toBe(200);
    expect(sent).toHaveLength(2);
    expect(sleeps).toEqual([5000]);
  });

  it('does not retry a plain 403, a 404 or a 422', async () => {
    for (const code of [403, 404, 422]) {
      const { fetchWithRetry, sent } = harness([status(code)]);
      expect((await fetchWithRetry(URL_)).status).toBe(code);
      expect(sent).toHaveLength(1);
    }
  });

  it('does NOT resend a POST or PATCH answered 500 (it may have been applied)', async () => {
    for (const method of ['POST', 'PATCH']) {
      const { fetchWithRetry, sent, sleeps } = harness([status(500), status(201)]);
      const response = await fetchWithRetry(URL_, { method, body: '{"body":"hello"}' });
      expect(response.status).toBe(500);
      expect(sent).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
  });

  it('resends a GET, PUT or DELETE answered 500', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const { fetchWithRetry, sent } = harness([status(500), status(200)]);
      expect((await fetchWithRetry(URL_, { method })).status).toBe(200);
      expect(sent.map((s) => s.method)).toEqual([method, method]);
    }
  });

  it('does NOT resend a POST or PATCH answered 502, 503 without Retry-After, or 504', async () => {
    for (const method of ['POST', 'PATCH']) {
      for (const code of [502, 503, 504]) {
        const { fetchWithRetry, sent, sleeps } = harness([status(code), status(201)]);
        expect((await fetchWithRetry(URL_, { method, body: '{"body":"hello"}' })).status).toBe(code);
        expect(sent).toHaveLength(1);
        expect(sleeps).toEqual([]);
      }
    }
  });

  it('resends a POST answered 429 or 503 with Retry-After (not applied), with the same body', async () => {
    const { fetchWithRetry, sent, sleeps } = harness([status(429, { 'retry-after': '1' }), status(503, { 'retry-after': '2' }), status(201)]);
    expect((await fetchWithRetry(URL_, { method: 'POST', body: '{"title":"x"}' })).status).toBe(201);
    expect(sent.map((s) => s.body)).toEqual(Array(3).fill('{"title":"x"}'));
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('retries a network error for GET but rethrows it at once for POST', async () => {
    const get = harness([new TypeError('fetch failed'), status(200)]);
    expect((await get.fetchWithRetry(URL_)).status).toBe(200);
    expect(get.sent).toHaveLength(2);

    const post = harness([new TypeError('fetch failed'), status(201)]);
    await expect(post.fetchWithRetry(URL_, { method: 'POST', body: 'x' })).rejects.toThrow('fetch failed');
    expect(post.sent).toHaveLength(1);
  });

  it('rethrows the network error once retries are spent', async () => {
    const { fetchWithRetry, sent } = harness([new TypeError('fetch failed'), new TypeError('fetch failed')], { retries: 1 });
    await expect(fetchWithRetry(URL_)).rejects.toThrow('fetch failed');
    expect(sent).toHaveLength(2);
  });

  it('buffers a streamed body so a retry sends the same bytes', async () => {
    const { fetchWithRetry, sent } = harness([status(503), status(200)]);
    const stream = new Response('streamed payload').body!;
    await fetchWithRetry(URL_, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    expect(sent.map((s) => s.body)).toEqual(['streamed payload', 'streamed payload']);
  });

  it('resends a Request object input with its body intact', async () => {
    const { fetchWithRetry, sent } = harness([status(429, { 'retry-after': '0' }), status(201)]);
    await fetchWithRetry(new Request(URL_, { method: 'POST', body: 'from a Request' }));
    expect(sent).toEqual([
      { method: 'POST', url: URL_, body: 'from a Request' },
      { method: 'POST', url: URL_, body: 'from a Request' },
    ]);
  });

  it('does not resend a POST whose attempt timed out, and says it timed out', async () => {
    const sent: string[] = [];
    const hanging: typeof fetch = (input, init) => {
      sent.push(String(input));
      return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    };
    const fetchWithRetry = retryingFetch(hanging, { timeoutMs: 20, sleep: async () => undefined });
    const error = await fetchWithRetry(URL_, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeTimeoutError);
    expect(error).toMatchObject({ status: 0, method: 'POST', timeoutMs: 20 });
    expect(sent).toHaveLength(1);
  });

  it('times out each attempt of a GET and tries again', async () => {
    let calls = 0;
    const flaky: typeof fetch = (_input, init) => {
      calls++;
      if (calls > 1) return Promise.resolve(status(200));
      return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    };
    const fetchWithRetry = retryingFetch(flaky, { timeoutMs: 20, sleep: async () => undefined });
    expect((await fetchWithRetry(URL_)).status).toBe(200);
    expect(calls).toBe(2);
  });

  it("does not retry after the caller's own abort", async () => {
    const controller = new AbortController();
    let calls = 0;
    const inner: typeof fetch = (_input, init) => {
      calls++;
      controller.abort(new Error('run cancelled'));
      return Promise.reject(init?.signal?.reason);
    };
    const fetchWithRetry = retryingFetch(inner, { sleep: async () => undefined });
    await expect(fetchWithRetry(URL_, { signal: controller.signal })).rejects.toThrow('run cancelled');
    expect(calls).toBe(1);
  });
});

describe('secondary rate limits (GitHub)', () => {
  const secondary = (headers: Record<string, string> = {}) =>
    new Response(JSON.stringify({ message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }), {
      status: 403,
      headers: { 'content-type': 'application/json', ...headers },
    });

  it('without Retry-After waits at least a minute, then twice as long each time', async () => {
    const { fetchWithRetry, sent, sleeps } = harness([secondary(), secondary(), secondary(), status(200)], { maxInlineWaitMs: 3_600_000 });
    expect((await fetchWithRetry(URL_, { method: 'POST', body: '{}' })).status).toBe(200);
    expect(sent).toHaveLength(4);
    expect(sleeps).toEqual([60_000, 120_000, 240_000]);
  });

  it('recognises the limit by the body message alone (no headers)', async () => {
    const { fetchWithRetry } = harness([secondary()], { retries: 0 });
    const error = await fetchWithRetry(URL_).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RateLimitedError', status: 403, retryAfterMs: 60_000 });
  });

  it('with Retry-After: 60 waits the whole 60 s', async () => {
    const { fetchWithRetry, sleeps } = harness([secondary({ 'retry-after': '60' }), status(200)], { maxInlineWaitMs: 120_000 });
    expect((await fetchWithRetry(URL_)).status).toBe(200);
    expect(sleeps).toEqual([60_000]);
  });

  it('hands a wait over the inline cap to the caller, and sends nothing with that credential until it is over', async () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const auth = { authorization: 'token ghs_one' };
    const { fetchWithRetry, sent } = harness([secondary(), status(200), secondary(), status(200)], { maxInlineWaitMs: 5_000, now: () => clock });

    await expect(fetchWithRetry(URL_, { method: 'POST', body: '{}', headers: auth })).rejects.toMatchObject({ retryAfterMs: 60_000 });
    clock += 20_000;
    // Still limited: no request goes out; the error says how long is left.
    await expect(fetchWithRetry(URL_, { headers: auth })).rejects.toMatchObject({ name: 'RateLimitedError', retryAfterMs: 40_000 });
    expect(sent).toHaveLength(1);
    // Another credential (another installation) is not held back.
    expect((await fetchWithRetry(URL_, { headers: { authorization: 'token ghs_two' } })).status).toBe(200);

    // Limited again after the first wait: the next wait doubles.
    clock += 40_000;
    await expect(fetchWithRetry(URL_, { headers: auth })).rejects.toMatchObject({ retryAfterMs: 120_000 });
    clock += 120_000;
    expect((await fetchWithRetry(URL_, { headers: auth })).status).toBe(200);
    expect(sent).toHaveLength(4);
  });

  it('waits for x-ratelimit-reset on an exhausted primary limit, handing a long one to the caller', async () => {
    const reset = String(Date.parse('2025-01-01T00:40:00Z') / 1000);
    const { fetchWithRetry, sent } = harness([status(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset })]);
    await expect(fetchWithRetry(URL_, { method: 'POST', body: '{}' })).rejects.toMatchObject({ status: 403, retryAfterMs: 40 * 60_000 });
    expect(sent).toHaveLength(1);
  });

  it('throws RateLimitedError, not the 429, when the retries are spent on a short limit', async () => {
    const { fetchWithRetry, sent } = harness([status(429, { 'retry-after': '1' }), status(429, { 'retry-after': '1' })], { retries: 1 });
    await expect(fetchWithRetry(URL_)).rejects.toMatchObject({ name: 'RateLimitedError', retryAfterMs: 1000 });
    expect(sent).toHaveLength(2);
  });
});

describe('decideAnswer', () => {
  const facts = (over: Partial<AnswerFacts>): AnswerFacts => ({
    status: 200,
    retryAfterMs: null,
    resetInMs: null,
    remainingZero: false,
    secondaryMessage: false,
    ...over,
  });
  const base = { idempotent: false, attempt: 0, retries: 3, secondaryStreak: 0, backoffMs: 250 };

  it.each([
    ['200', facts({}), 'ok-or-final'],
    ['plain 403', facts({ status: 403 }), 'ok-or-final'],
    ['403 remaining 0', facts({ status: 403, remainingZero: true }), 'primary-limit'],
    ['403 Retry-After', facts({ status: 403, retryAfterMs: 5000 }), 'secondary-limit'],
    ['403 message', facts({ status: 403, secondaryMessage: true }), 'secondary-limit'],
    ['429', facts({ status: 429 }), 'secondary-limit'],
    ['429 remaining 0', facts({ status: 429, remainingZero: true }), 'primary-limit'],
    ['503 Retry-After', facts({ status: 503, retryAfterMs: 1000 }), 'unavailable'],
    ['503', facts({ status: 503 }), 'server-error'],
    ['502', facts({ status: 502 }), 'server-error'],
    ['422', facts({ status: 422 }), 'ok-or-final'],
  ] as const)('classifies %s', (_name, input, kind) => {
    expect(classify(input)).toBe(kind);
  });

  it.each([
    ['a write answered 502 is returned', { ...base, facts: facts({ status: 502 }) }, { kind: 'return' }],
    ['a write answered 500 is returned', { ...base, facts: facts({ status: 500 }) }, { kind: 'return' }],
    ['a GET answered 502 is retried', { ...base, idempotent: true, facts: facts({ status: 502 }) }, { kind: 'retry', waitMs: 250 }],
    ['a GET answered 502 on its last attempt is returned', { ...base, idempotent: true, attempt: 3, facts: facts({ status: 502 }) }, { kind: 'return' }],
    ['a secondary limit waits a minute', { ...base, facts: facts({ status: 403, secondaryMessage: true }) }, { kind: 'limited', waitMs: 60_000, secondary: true }],
    ['the third secondary limit in a row waits four', { ...base, secondaryStreak: 2, facts: facts({ status: 403, secondaryMessage: true }) }, { kind: 'limited', waitMs: 240_000, secondary: true }],
    ['Retry-After wins', { ...base, secondaryStreak: 2, facts: facts({ status: 403, retryAfterMs: 60_000 }) }, { kind: 'limited', waitMs: 60_000, secondary: true }],
    ['a primary limit waits for the reset', { ...base, facts: facts({ status: 403, remainingZero: true, resetInMs: 90_000 }) }, { kind: 'limited', waitMs: 90_000, secondary: false }],
    ['a 503 with Retry-After waits as asked', { ...base, facts: facts({ status: 503, retryAfterMs: 7000 }) }, { kind: 'limited', waitMs: 7000, secondary: false }],
  ] as const)('%s', (_name, input, expected) => {
    expect(decideAnswer(input)).toEqual(expected);
  });

  it('caps the doubling at half an hour', () => {
    expect(secondaryWait(0)).toBe(60_000);
    expect(secondaryWait(10)).toBe(30 * 60_000);
  });

  it.each([
    ['a write', { idempotent: false, attempt: 0, retries: 3, callerAborted: false, backoffMs: 10 }, { kind: 'throw' }],
    ['a GET', { idempotent: true, attempt: 0, retries: 3, callerAborted: false, backoffMs: 10 }, { kind: 'retry', waitMs: 10 }],
    ['a GET out of retries', { idempotent: true, attempt: 3, retries: 3, callerAborted: false, backoffMs: 10 }, { kind: 'throw' }],
    ['a GET the caller aborted', { idempotent: true, attempt: 0, retries: 3, callerAborted: true, backoffMs: 10 }, { kind: 'throw' }],
  ] as const)('decideFailure: %s', (_name, input, expected) => {
    expect(decideFailure(input)).toEqual(expected);
  });
});
