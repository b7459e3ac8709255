/**
 * The inbox processor over a real store: slots that free one by one, and rate-limited
 * deliveries put back on the schedule without counting as failures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/forges/errors.js';
import { isPermanentError, retryAfterMsOf } from '../../src/inbox/dispatch.js';
import { decideAfterFailure, InboxProcessor, type ProcessorOptions } from '../../src/inbox/processor.js';
import { createLogger } from '../../src/log.js';
import { insertDeliveries } from '../../src/store/deliveries.js';
import type { Delivery } from '../../src/store/schema.js';
import { waitFor } from '../helpers/app.js';
import { backends } from '../helpers/stores.js';

type OpenStore = Awaited<ReturnType<(typeof backends)[number]['open']>>;

describe.each(backends)('InboxProcessor ($name)', (backend) => {
  let store: OpenStore;
  let processor: InboxProcessor | undefined;

  afterEach(async () => {
    await processor?.stop();
    processor = undefined;
    await store.dispose();
  });

  async function start(handle: (d: Delivery) => Promise<void>, over: Partial<ProcessorOptions> = {}) {
    store = await backend.open();
    processor = new InboxProcessor({
      db: store.db,
      log: createLogger({ level: 'silent' }),
      handle,
      pollIntervalMs: 10,
      maxAttempts: 3,
      retryBaseMs: 5,
      concurrency: 4,
      isPermanent: isPermanentError,
      retryAfterMs: retryAfterMsOf,
      ...over,
    });
    return processor;
  }

  const store_ = (ids: string[]) =>
    insertDeliveries(
      store.db,
      ids.map((id) => ({ forge: 'github', deliveryId: id, event: 'issues', body: '{}' })),
    );
  const rows = () => store.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();

  it('lets five deliveries finish while a slow one holds its slot, never running more than `concurrency` at once', async () => {
    let releaseSlow!: () => void;
    const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
    const done: string[] = [];
    let running = 0;
    let most = 0;
    const p = await start(async (d) => {
      running++;
      most = Math.max(most, running);
      try {
        if (d.delivery_id === 'slow') await slow;
        else await new Promise((r) => setTimeout(r, 5));
        done.push(d.delivery_id);
      } finally {
        running--;
      }
    });
    // The slow one is first in line, so it is in the first claim with three others.
    await store_(['slow', 'a', 'b', 'c', 'd', 'e']);
    await p.start();

    await waitFor(async () => done.length === 5, 'the five quick deliveries');
    expect(done).not.toContain('slow');
    expect((await rows()).find((r) => r.delivery_id === 'slow')?.status).toBe('processing');
    expect(most).toBeLessThanOrEqual(4);

    releaseSlow();
    await waitFor(async () => (await rows()).every((r) => r.status === 'done'), 'every delivery to be done');
    expect(done.at(-1)).toBe('slow');
  });

  it('postpones a rate-limited delivery without counting the try, then handles it', async () => {
    const seen: number[] = [];
    const p = await start(
      async (d) => {
        seen.push(d.attempts);
        if (seen.length === 1) throw new RateLimitedError(403, 'POST', 'https://api.github.com/repos/o/r/issues/1/comments', 30);
      },
      { maxAttempts: 1 },
    );
    await store_(['limited']);
    await p.start();
    await waitFor(async () => (await rows())[0]?.status === 'done', 'the postponed delivery to be handled');
    // With max_attempts 1, a counted failure would have failed it for good.
    expect(seen).toEqual([1, 1]);
    expect((await rows())[0]).toMatchObject({ status: 'done', attempts: 1 });
  });

  it('schedules the postponed delivery for when the forge said, and keeps why', async () => {
    const p = await start(async () => {
      throw new RateLimitedError(403, 'GET', 'https://api.github.com/repos/o/r/pulls', 3_600_000);
    });
    await store_(['limited']);
    const before = Date.now();
    await p.start();
    await waitFor(async () => (await rows())[0]?.last_error != null, 'the delivery to be postponed');
    const [row] = await rows();
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(row!.last_error).toContain('rate limited');
    expect(Date.parse(row!.next_attempt_at)).toBeGreaterThanOrEqual(before + 3_600_000);
  });

  it('still counts and retries an ordinary failure, and fails it for good after max_attempts', async () => {
    const p = await start(async () => {
      throw new Error('GET https://api.github.com/x failed with 500');
    });
    await store_(['broken']);
    await p.start();
    await waitFor(async () => (await rows())[0]?.status === 'failed', 'the delivery to fail for good');
    expect((await rows())[0]).toMatchObject({ attempts: 3 });
  });
});

describe('decideAfterFailure', () => {
  const base = { attempts: 1, maxAttempts: 3, retryBaseMs: 100, permanent: false, retryAfterMs: null };
  it.each([
    ['an ordinary failure is retried with backoff', base, { kind: 'retry', delayMs: 100 }],
    ['the third try waits four steps', { ...base, attempts: 3, maxAttempts: 5 }, { kind: 'retry', delayMs: 400 }],
    ['the last try gives up', { ...base, attempts: 3 }, { kind: 'give-up' }],
    ['a permanent error gives up at once', { ...base, permanent: true }, { kind: 'give-up' }],
    ['a rate limit postpones, even on the last try', { ...base, attempts: 3, retryAfterMs: 60_000 }, { kind: 'postpone', delayMs: 60_000 }],
  ] as const)('%s', (_name, input, expected) => {
    expect(decideAfterFailure(input)).toEqual(expected);
  });

  it('does not call a rate limit permanent', () => {
    const limited = new RateLimitedError(429, 'GET', 'https://gitlab.example.com/api/v4/projects/1', 5000);
    expect(isPermanentError(limited)).toBe(false);
    expect(retryAfterMsOf(limited)).toBe(5000);
    expect(retryAfterMsOf(new Error('x'))).toBeNull();
  });
});
