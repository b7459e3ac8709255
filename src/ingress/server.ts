/**
 * The HTTP surface: webhook ingress for both forges and the health checks. A delivery is
 * verified, stored in the inbox, and only then answered 202; the work happens later. While
 * the store cannot be reached, a delivery is answered 503 with Retry-After (the forge keeps
 * it and can send it again) and never 202: an acknowledged delivery is one on disk.
 * `/healthz` says the process is alive; `/readyz` says whether it can take deliveries.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '../log.js';
import type { StoreHealthState } from '../store/health.js';
import type { InboxWriter } from './inbox-writer.js';

/** The store as the ingress sees it: which one, and whether it can be reached. */
export interface IngressStore {
  dialect: string;
  health: {
    current(): StoreHealthState;
    /** Asks the store now (for `/readyz`). */
    check(): Promise<StoreHealthState>;
  };
}

export interface IngressOptions {
  inbox: InboxWriter;
  store: IngressStore;
  log: Logger;
  maxBodyBytes: number;
  /** Absent when GitHub is not configured: the route then answers 404 saying so. */
  github?: { verify: (rawBody: string, signature: string) => Promise<boolean> };
  gitlab?: { secret: string };
  /**
   * Why the inbox is stuck (a due delivery waited too long), or null; `/readyz` answers 503
   * with the reason while it is.
   */
  inboxStuck?: () => Promise<string | null>;
  /** Extra routes (REST API, metrics) mounted by the caller. */
  extend?: (app: Hono) => void;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compares secrets in time independent of where they differ (and of their lengths). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Seconds a forge or a load balancer is asked to wait before trying again. */
export const RETRY_AFTER_SECONDS = 5;

type Unreachable = Extract<StoreHealthState, { reachable: false }>;

function unavailable(c: Context, body: Record<string, unknown>) {
  c.header('Retry-After', String(RETRY_AFTER_SECONDS));
  return c.json(body, 503);
}

/**
 * Pure: why the inbox counts as stuck, or null. A delivery that has been due for longer than
 * `thresholdMs` means the processor is not taking work (hung, or every slot held).
 */
export function inboxStuckReason(oldest: { id: number; due_at: string } | undefined, nowMs: number, thresholdMs: number): string | null {
  if (!oldest) return null;
  const waited = nowMs - Date.parse(oldest.due_at);
  if (waited <= thresholdMs) return null;
  return `delivery ${oldest.id} has been due since ${oldest.due_at} (${Math.round(waited / 1000)} s, more than ${Math.round(thresholdMs / 1000)} s): the inbox is not being processed`;
}

const storeDown = (dialect: string, state: Unreachable) => ({ dialect, reachable: false, reason: state.reason, since: state.since });

export function createIngress(options: IngressOptions): Hono {
  const { inbox, log, store: backend } = options;
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: (c) => c.json({ error: `body larger than ${options.maxBodyBytes} bytes` }, 413),
  });

  async function store(c: Context, forge: string, deliveryId: string, event: string, body: string) {
    if (!isJson(body)) return c.json({ error: 'body is not valid JSON' }, 400);
    const notStored = (state: Unreachable) => {
      log.warn({ forge, deliveryId, event, reason: state.reason }, 'delivery refused: the store is unreachable');
      return unavailable(c, { error: 'the store is unreachable: the delivery was not stored, send it again later', store: storeDown(backend.dialect, state) });
    };
    const before = backend.health.current();
    if (!before.reachable) return notStored(before);
    let stored: boolean;
    try {
      stored = await inbox.put({ forge, deliveryId, event, body });
    } catch (error) {
      // The store marks itself unreachable before a lost connection's error reaches here.
      const after = backend.health.current();
      if (!after.reachable) return notStored(after);
      throw error;
    }
    log.debug({ forge, deliveryId, event, stored }, stored ? 'delivery stored' : 'redelivery ignored');
    return c.json({ accepted: true, duplicate: !stored }, 202);
  }

  app.get('/healthz', (c) =>
    c.json({ status: 'ok', forges: { github: Boolean(options.github), gitlab: Boolean(options.gitlab) } }),
  );

  app.get('/readyz', async (c) => {
    const state = await backend.health.check();
    if (!state.reachable) return unavailable(c, { status: 'unavailable', store: storeDown(backend.dialect, state) });
    const store = { dialect: backend.dialect, reachable: true };
    const stuck = (await options.inboxStuck?.()) ?? null;
    if (stuck) return unavailable(c, { status: 'unavailable', store, inbox: { stuck: true, reason: stuck } });
    return c.json({ status: 'ready', store, inbox: { stuck: false } });
  });

  app.post('/api/github/webhooks', limit, async (c) => {
    const github = options.github;
    if (!github) return c.json({ error: 'GitHub is not configured (set APP_ID, PRIVATE_KEY, WEBHOOK_SECRET)' }, 404);
    const signature = c.req.header('x-hub-signature-256');
    const body = await c.req.text();
    if (!signature || !(await github.verify(body, signature))) {
      return c.json({ error: 'invalid or missing X-Hub-Signature-256' }, 401);
    }
    const id = c.req.header('x-github-delivery');
    const event = c.req.header('x-github-event');
    if (!id || !event) return c.json({ error: 'missing X-GitHub-Delivery or X-GitHub-Event header' }, 400);
    return store(c, 'github', id, event, body);
  });

  app.post('/api/gitlab/webhooks', limit, async (c) => {
    const gitlab = options.gitlab;
    if (!gitlab) return c.json({ error: 'GitLab is not configured (set GITLAB_URL, GITLAB_TOKEN, GITLAB_WEBHOOK_SECRET)' }, 404);
    const token = c.req.header('x-gitlab-token');
    if (!token || !secretsEqual(token, gitlab.secret)) return c.json({ error: 'invalid or missing X-Gitlab-Token' }, 401);
    const event = c.req.header('x-gitlab-event');
    if (!event) return c.json({ error: 'missing X-Gitlab-Event header' }, 400);
    const body = await c.req.text();
    // GitLab ≥17.4 keeps Idempotency-Key across retries; older ones send only the event UUID
    // (or nothing), and then the body itself is the identity.
    const id =
      c.req.header('idempotency-key') ??
      c.req.header('x-gitlab-event-uuid') ??
      `sha256:${createHash('sha256').update(body).digest('hex')}`;
    return store(c, 'gitlab', id, event, body);
  });

  options.extend?.(app);
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    log.error({ err: error, path: c.req.path }, 'request failed');
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
