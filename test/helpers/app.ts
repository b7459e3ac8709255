/**
 * Starts the real bot for a test: a fresh SQLite file, the shipped config and agents, both
 * forges configured with test secrets, on a random port. Forge APIs are left to nock.
 */
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startApp, type RunningApp } from '../../src/app.js';
import { readEnvironment } from '../../src/config/env.js';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import type { Executor } from '../../src/executor/contract.js';
import { createLogger } from '../../src/log.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const GITHUB_SECRET = 'github-webhook-secret-for-tests';
export const GITLAB_SECRET = 'gitlab-webhook-secret-for-tests';
export const GITLAB_TOKEN = 'glpat-test-token-never-logged';
export const GITLAB_URL = 'https://gitlab.example.com';

let privateKey: string | undefined;
/** One RSA key per test process: generating one takes a while. */
export function testPrivateKey(): string {
  privateKey ??= generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  return privateKey;
}

export interface TestApp extends RunningApp {
  dir: string;
  dbPath: string;
  loaded: LoadedConfig;
  close(): Promise<void>;
}

export function testEnv(dbPath: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    APP_ID: '12345',
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET: GITHUB_SECRET,
    GITLAB_URL,
    GITLAB_TOKEN,
    GITLAB_WEBHOOK_SECRET: GITLAB_SECRET,
    DATABASE_URL: dbPath,
    ...extra,
  };
}

/**
 * An executor with no room: assigned tasks stay assigned. For tests of intake and routing,
 * which must not start agents.
 */
export const parkedExecutor: Executor = {
  capacity: 0,
  run: () => Promise.reject(new Error('the parked executor runs nothing')),
};

export async function startTestApp(
  options: {
    tweak?: (loaded: LoadedConfig) => void;
    env?: Record<string, string>;
    dir?: string;
    /** `local`: the real local executor (worktrees under the test dir); default: parked. */
    executor?: Executor | 'local';
  } = {},
): Promise<TestApp> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'doom-app-'));
  const dbPath = join(dir, 'doom.db');
  const loaded = loadConfig(join(repoRoot, 'config/doom-rlvr.toml'));
  loaded.config.inbox.retry_base_ms = 5;
  loaded.config.inbox.poll_interval_ms = 20;
  options.tweak?.(loaded);
  const pg = await postgresFor(dir);
  const env = readEnvironment(testEnv(pg?.url ?? dbPath, options.env));
  loaded.config.executor.mirror_dir = join(dir, 'mirrors');
  loaded.config.executor.workspace_dir = join(dir, 'workspaces');
  const app = await startApp({
    env,
    loaded,
    log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    port: 0,
    executor: options.executor === 'local' ? undefined : (options.executor ?? parkedExecutor),
  });
  return {
    ...app,
    dir,
    dbPath,
    loaded,
    async close() {
      await app.stop();
      if (!options.dir) {
        rmSync(dir, { recursive: true, force: true });
        await pg?.drop();
      }
    },
  };
}

/**
 * With TEST_APP_DATABASE_URL set (a Postgres URL), the app under test stores into its own
 * schema there instead of a SQLite file: one schema per test directory, so a restart on the
 * same directory finds its data again.
 */
async function postgresFor(dir: string): Promise<{ url: string; drop(): Promise<void> } | null> {
  const base = process.env.TEST_APP_DATABASE_URL;
  if (!base) return null;
  const schema = `app_${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create schema if not exists ${schema}`);
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), drop: () => admin(`drop schema if exists ${schema} cascade`) };
}

export const signGitHub = (body: string, secret = GITHUB_SECRET): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

export function postGitHub(
  url: string,
  event: string,
  payload: unknown,
  options: { delivery?: string; signature?: string | null; body?: string } = {},
): Promise<Response> {
  const body = options.body ?? JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': options.delivery ?? crypto.randomUUID(),
    'user-agent': 'GitHub-Hookshot/test',
  };
  const signature = options.signature === undefined ? signGitHub(body) : options.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return fetch(`${url}/api/github/webhooks`, { method: 'POST', headers, body });
}

export function postGitLab(
  url: string,
  event: string,
  payload: unknown,
  options: { idempotencyKey?: string | null; eventUuid?: string | null; token?: string | null; body?: string } = {},
): Promise<Response> {
  const body = options.body ?? JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-gitlab-event': event,
    'user-agent': 'GitLab/17.5.0',
    'x-gitlab-instance': GITLAB_URL,
  };
  const token = options.token === undefined ? GITLAB_SECRET : options.token;
  if (token !== null) headers['x-gitlab-token'] = token;
  const key = options.idempotencyKey === undefined ? crypto.randomUUID() : options.idempotencyKey;
  if (key !== null) headers['idempotency-key'] = key;
  if (options.eventUuid) headers['x-gitlab-event-uuid'] = options.eventUuid;
  return fetch(`${url}/api/gitlab/webhooks`, { method: 'POST', headers, body });
}

/** Polls `check` until it returns a value other than undefined/false; bounded by tries, not asserted time. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, what: string, tries = 500): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Waits until the inbox holds no delivery that is pending or being processed. */
export async function settled(app: RunningApp): Promise<void> {
  await waitFor(async () => {
    const open = await app.store.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', 'in', ['pending', 'processing'])
      .execute();
    return open.length === 0;
  }, 'the inbox to settle');
}
