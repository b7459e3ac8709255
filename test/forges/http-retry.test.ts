import { describe, expect, it } from 'vitest';
import { retryingFetch, type RetryOptions } from '../../src/forges/http-retry.js';

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
    maxDelayMs: 10_000,
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

  it('caps a long Retry-After at maxDelayMs', async () => {
    const { fetchWithRetry, sleeps } = harness([status(429, { 'retry-after': '3600' }), status(200)]);
    await fetchWithRetry(URL_);
    expect(sleeps).toEqual([10_000]);
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

  it('resends a POST answered 502/503/504, with the same body', async () => {
    const { fetchWithRetry, sent } = harness([status(502), status(503), status(504), status(201)]);
    expect((await fetchWithRetry(URL_, { method: 'POST', body: '{"title":"x"}' })).status).toBe(201);
    expect(sent.map((s) => s.body)).toEqual(Array(4).fill('{"title":"x"}'));
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
});
