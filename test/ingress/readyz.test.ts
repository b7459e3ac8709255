/**
 * Readiness on the store the app runs on (SQLite here, Postgres with TEST_APP_DATABASE_URL).
 * The outage itself is staged in outage.test.ts, on a Postgres cluster of its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

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
    expect(await res.json()).toEqual({ status: 'ready', store: { dialect: app.store.dialect, reachable: true } });
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
});
