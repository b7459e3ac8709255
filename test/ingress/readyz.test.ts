/**
 * Readiness on the store the app runs on (SQLite here, Postgres with TEST_APP_DATABASE_URL).
 * The outage itself is staged in outage.test.ts, on a Postgres cluster of its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inboxStuckReason } from '../../src/ingress/server.js';
import { postGitLab, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { labeledIssue } from '../helpers/issues.js';

describe('/readyz and /healthz', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('answers 200 ready, naming the store, while the store answers', async () => {
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', store: { dialect: app.store.dialect, reachable: true }, inbox: { stuck: false } });
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('answers 503 with the reason once the store is closed under it, while /healthz stays 200', async () => {
    // The one way an embedded SQLite store stops answering: it is no longer open.
    await app.store.db.destroy();
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = (await res.json()) as { status: string; store: { reachable: boolean; reason: string } };
    expect(body).toMatchObject({ status: 'unavailable', store: { dialect: app.store.dialect, reachable: false } });
    expect(body.store.reason).not.toBe('');
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('answers 503 naming the delivery while a due one waits longer than inbox.stuck_after_ms', async () => {
    await app.close();
    app = await startTestApp({ tweak: (loaded) => void (loaded.config.inbox.stuck_after_ms = 1) });
    // A processor that takes nothing: the delivery stays due.
    await app.processor.stop();
    await postGitLab(app.url, 'Issue Hook', labeledIssue('https://gitlab.example.com/gitlabhq/gitlab-test.git'));
    const res = await waitFor(async () => {
      const r = await fetch(`${app.url}/readyz`);
      return r.status === 503 ? r : undefined;
    }, 'readyz to report the stuck inbox');
    const body = (await res.json()) as { status: string; store: { reachable: boolean }; inbox: { stuck: boolean; reason: string } };
    expect(body).toMatchObject({ status: 'unavailable', store: { reachable: true }, inbox: { stuck: true } });
    expect(body.inbox.reason).toMatch(/^delivery \d+ has been due since .* the inbox is not being processed$/);
  });
});

describe('inboxStuckReason', () => {
  const at = Date.parse('2026-01-01T00:10:00.000Z');
  it.each([
    [undefined, null],
    [{ id: 1, due_at: '2026-01-01T00:09:00.000Z' }, null],
    [{ id: 1, due_at: '2026-01-01T00:05:00.000Z' }, null],
    [
      { id: 7, due_at: '2026-01-01T00:04:59.000Z' },
      'delivery 7 has been due since 2026-01-01T00:04:59.000Z (301 s, more than 300 s): the inbox is not being processed',
    ],
  ])('%j', (oldest, expected) => {
    expect(inboxStuckReason(oldest, at, 300_000)).toBe(expected);
  });
});
