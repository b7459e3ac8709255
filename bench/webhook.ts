/**
 * Webhook ingress: signed `issues.labeled` deliveries against the real server (Probot's
 * signature check → JSON check → inbox group commit on SQLite → 202) and, in the same run,
 * against a bare Hono endpoint on the same HTTP stack that only verifies the signature and
 * answers 202. Target: the real server at least half the bare endpoint's throughput.
 *
 * - Payload: the real `issues.labeled` example from @octokit/webhooks-examples, as a GitHub App
 *   delivery (with `installation`) adding the bot's trigger label, one new issue per delivery,
 *   so the background work is the real thing: a task per delivery, routed, a sticky comment.
 * - Background: the inbox processor runs during the measurement, as in production. Its GitHub
 *   API calls are answered locally by the `fetch` given to the app (there is no network), and
 *   the runs it assigns go to a stub executor that holds them in flight (no clone, no agent).
 * - Load: a closed loop of CONCURRENCY keep-alive connections (node:http) in a worker thread.
 *   In the server's own thread it would steal the server's event loop; in a worker it has its
 *   own loop, like an outside client, though it still shares this machine's CPUs.
 * - Rounds alternate bare, real, bare, real, …; before each round the real server's inbox is
 *   drained, so one target's background work never lands in the other's measurement.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { serve, type ServerType } from '@hono/node-server';
import { sign, verify } from '@octokit/webhooks-methods';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { startApp, type RunningApp } from '../src/app.js';
import { readEnvironment } from '../src/config/env.js';
import { loadConfig } from '../src/config/load.js';
import type { Executor, RunResult } from '../src/executor/contract.js';
import { createLogger } from '../src/log.js';
import { emptyUsage } from '../src/runners/runner.js';
import { deliveryCounts } from '../src/store/deliveries.js';

const CONCURRENCY = 32;
const WARMUP = 300;
const REQUESTS = 3000;
const ROUNDS = 3;
const TARGET_RATIO = 0.5;
const DRAIN_TIMEOUT_MS = 180_000;
/** GitHub's REST API takes a few hundred ms a call; 100 ms is on the fast side (more background work per second). */
const API_LATENCY_MS = 100;
const PATH = '/api/github/webhooks';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER_KIND = 'doom-bench-webhook-load';

// ---------------------------------------------------------------------------------------------
// Load generator (runs in the worker thread)

export interface Delivery {
  id: string;
  body: string;
  signature: string;
}

export interface LoadRequest {
  port: number;
  deliveries: Delivery[];
  concurrency: number;
}

export interface LoadResult {
  /** Milliseconds from sending the request to the end of the response, per request. */
  latencies: number[];
  elapsedMs: number;
  statuses: Record<string, number>;
  errors: string[];
}

async function runLoad(agents: Map<number, http.Agent>, request: LoadRequest): Promise<LoadResult> {
  let agent = agents.get(request.port);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: request.concurrency });
    agents.set(request.port, agent);
  }
  const prepared = request.deliveries.map((d) => ({
    body: Buffer.from(d.body),
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/bench',
      'x-github-event': 'issues',
      'x-github-delivery': d.id,
      'x-github-hook-id': '1',
      'x-github-hook-installation-target-type': 'integration',
      'x-github-hook-installation-target-id': '1',
      'x-hub-signature-256': d.signature,
    },
  }));
  const latencies = new Array<number>(prepared.length);
  const statuses: Record<string, number> = {};
  const errors: string[] = [];

  const send = (item: (typeof prepared)[number]): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: '127.0.0.1',
          port: request.port,
          path: PATH,
          method: 'POST',
          headers: { ...item.headers, 'content-length': item.body.length },
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(item.body);
    });

  let next = 0;
  const loop = async () => {
    while (next < prepared.length) {
      const i = next++;
      const started = performance.now();
      try {
        const status = await send(prepared[i]!);
        statuses[status] = (statuses[status] ?? 0) + 1;
      } catch (error) {
        errors.push((error as Error).message);
      }
      latencies[i] = performance.now() - started;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: request.concurrency }, loop));
  return { latencies, elapsedMs: performance.now() - started, statuses, errors };
}

function workerMain(): void {
  const port = parentPort!;
  const agents = new Map<number, http.Agent>();
  port.on('message', (message: { type: 'run'; request: LoadRequest } | { type: 'close' }) => {
    if (message.type === 'close') {
      for (const agent of agents.values()) agent.destroy();
      port.close();
      return;
    }
    runLoad(agents, message.request).then(
      (result) => port.postMessage({ ok: true, result }),
      (error: unknown) => port.postMessage({ ok: false, error: String(error) }),
    );
  });
}

/**
 * Starts the load generator; the worker loads this very module through tsx (a worker does not
 * inherit the parent's `--import tsx`). Exported, like the other helpers, for ad-hoc profiling.
 */
export function startLoadWorker(): { load: (request: LoadRequest) => Promise<LoadResult>; close: () => Promise<void> } {
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { kind: WORKER_KIND } });
  let failure: unknown = null;
  worker.on('error', (error) => (failure = error));
  return {
    load: (request) =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        const onError = (error: unknown) => reject(error);
        worker.once('error', onError);
        worker.once('message', (reply: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
          worker.off('error', onError);
          if (reply.ok) resolve(reply.result);
          else reject(new Error(`load generator: ${reply.error}`));
        });
        worker.postMessage({ type: 'run', request });
      }),
    close: async () => {
      worker.postMessage({ type: 'close' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Payload, targets, the fake GitHub API

interface Example {
  name: string;
  examples: Array<Record<string, unknown> & { action?: string }>;
}

/** The first `issues.labeled` example of @octokit/webhooks-examples (`api.github.com/index.json`). */
export async function labeledExample(): Promise<Record<string, unknown>> {
  const index = JSON.parse(await readFile(fileURLToPath(import.meta.resolve('@octokit/webhooks-examples')), 'utf8')) as Example[];
  const example = index.find((e) => e.name === 'issues')?.examples.find((e) => e.action === 'labeled');
  if (!example) throw new Error('@octokit/webhooks-examples has no issues.labeled example');
  return example;
}

/**
 * Deliveries labeling `count` new issues with the trigger label, signed over the exact body.
 * Issue numbers come from `nextIssue` so that every delivery to the real server is a new issue.
 */
export async function makeDeliveries(
  example: Record<string, unknown>,
  trigger: string,
  secret: string,
  nextIssue: () => number,
  count: number,
): Promise<Delivery[]> {
  const issue = example.issue as { labels?: unknown[] };
  const label = { ...(example.label as object), id: 9_000_000_001, name: trigger, default: false, description: 'doom-rlvr task' };
  const out: Delivery[] = [];
  for (let i = 0; i < count; i++) {
    const n = nextIssue();
    const body = JSON.stringify({
      ...example,
      label,
      issue: { ...issue, id: 1_000_000 + n, number: n, labels: [...(issue.labels ?? []), label] },
      installation: { id: 1, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==' },
    });
    out.push({ id: randomUUID(), body, signature: await sign(secret, body) });
  }
  return out;
}

/** The baseline: the same HTTP stack, raw body, the signature check Probot runs, 202. */
export async function startBare(secret: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const app = new Hono();
  app.post(PATH, async (c) => {
    const body = await c.req.text();
    const signature = c.req.header('x-hub-signature-256');
    if (!signature || !body || !(await verify(secret, body, signature))) return c.json({ error: 'bad signature' }, 401);
    return c.json({ accepted: true, duplicate: false }, 202);
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface FakeGitHub {
  fetch: typeof fetch;
  calls: Map<string, number>;
  /** How long each answer takes: GitHub's own latency, which paces the background handlers. */
  latencyMs: number;
  /** Issue path → ids of the comments on it. */
  commentsByIssue: Map<string, number[]>;
}

/**
 * Answers the GitHub REST calls the background handlers make, and counts them. Comments are
 * kept, so finding the sticky comment by its marker works as it does on GitHub. A call takes
 * effect halfway through its latency, as a request does on a real server.
 */
export function fakeGitHub(latencyMs = 0): FakeGitHub {
  const calls = new Map<string, number>();
  const comments = new Map<number, { issue: string; body: string }>();
  const commentsByIssue = new Map<string, number[]>();
  let nextComment = 1;
  const json = (status: number, data: unknown) =>
    new Response(JSON.stringify(data), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
  const bodyOf = (init?: RequestInit) => (JSON.parse(String(init?.body ?? '{}')) as { body?: string }).body ?? '';
  const routes: Array<[string, RegExp, (match: RegExpExecArray, init?: RequestInit) => Response]> = [
    [
      'POST /app/installations/:id/access_tokens',
      /^\/app\/installations\/\d+\/access_tokens$/,
      () =>
        json(201, {
          token: 'ghs_bench',
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          permissions: { issues: 'write', pull_requests: 'write', contents: 'write', metadata: 'read' },
          repository_selection: 'all',
        }),
    ],
    [
      'GET /repos/:o/:r/issues/:n/comments',
      /^(\/repos\/[^/]+\/[^/]+\/issues\/\d+)\/comments$/,
      (m) => json(200, (commentsByIssue.get(m[1]!) ?? []).map((id) => ({ id, body: comments.get(id)!.body }))),
    ],
    [
      'POST /repos/:o/:r/issues/:n/comments',
      /^(\/repos\/[^/]+\/[^/]+\/issues\/\d+)\/comments$/,
      (m, init) => {
        const id = nextComment++;
        comments.set(id, { issue: m[1]!, body: bodyOf(init) });
        commentsByIssue.set(m[1]!, [...(commentsByIssue.get(m[1]!) ?? []), id]);
        return json(201, { id, body: bodyOf(init) });
      },
    ],
    [
      'PATCH /repos/:o/:r/issues/comments/:id',
      /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/,
      (m, init) => {
        const comment = comments.get(Number(m[1]));
        if (!comment) return json(404, { message: 'Not Found' });
        comment.body = bodyOf(init);
        return json(200, { id: Number(m[1]), body: comment.body });
      },
    ],
    ['POST /repos/:o/:r/issues/:n/labels', /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/labels$/, () => json(200, [{ id: 1, name: 'doom:assigned' }])],
    [
      'GET /repos/:o/:r/collaborators/:u/permission',
      /^\/repos\/[^/]+\/[^/]+\/collaborators\/[^/]+\/permission$/,
      () => json(200, { permission: 'write', role_name: 'write' }),
    ],
    ['GET /repos/:o/:r/pulls', /^\/repos\/[^/]+\/[^/]+\/pulls$/, () => json(200, [])],
  ];
  const pause = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
  const fakeFetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    let match: RegExpExecArray | null = null;
    const route = routes.find(([name, pattern]) => name.startsWith(`${method} `) && (match = pattern.exec(url.pathname)) !== null);
    const name = route?.[0] ?? `unexpected ${method} ${url.pathname}`;
    calls.set(name, (calls.get(name) ?? 0) + 1);
    const latency = fake.latencyMs;
    await pause(latency / 2);
    const response = route && match ? route[2](match, init) : json(404, { message: 'Not Found' });
    await pause(latency / 2);
    return response;
  };
  const fake: FakeGitHub = { fetch: fakeFetch as typeof fetch, calls, latencyMs, commentsByIssue };
  return fake;
}

/**
 * Agent runs take minutes and need the network and an agent CLI: runs handed to this executor
 * stay in flight until the app stops, so the agents are busy for the whole measurement, as
 * they would be in a burst, and nothing clones or spawns.
 */
export function idleExecutor(capacity: number): Executor {
  return {
    capacity,
    run: (_request, signal) =>
      new Promise<RunResult>((resolve) => {
        const cancelled = (): void =>
          resolve({
            outcome: 'cancelled',
            usage: emptyUsage(),
            transcript: '',
            commitSha: null,
            changedFiles: [],
            durationMs: 0,
          });
        if (signal.aborted) cancelled();
        else signal.addEventListener('abort', cancelled, { once: true });
      }),
  };
}

async function waitForInbox(app: RunningApp): Promise<{ drained: boolean; counts: Record<string, number> }> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const counts = await deliveryCounts(app.store.db);
    if (!counts.pending && !counts.processing) return { drained: true, counts };
    if (Date.now() > deadline) return { drained: false, counts };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

export interface Summary {
  rate: number;
  rates: number[];
  p50: number;
  p99: number;
}

export function summarize(results: LoadResult[]): Summary {
  const rates = results.map((r) => (r.latencies.length / r.elapsedMs) * 1000);
  const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return { rate: median(rates), rates, p50: percentile(all, 50), p99: percentile(all, 99) };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

interface Target {
  key: string;
  name: string;
  /** The fake GitHub API's answer time while this target is measured. */
  latencyMs?: number;
}

function check(result: LoadResult, target: string): void {
  const bad = Object.entries(result.statuses).filter(([status]) => status !== '202');
  if (result.errors.length > 0 || bad.length > 0) {
    throw new Error(`${target}: expected only 202, got ${JSON.stringify(result.statuses)}; errors: ${result.errors.slice(0, 3).join('; ')}`);
  }
}

// ---------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  console.log('\n## Webhook ingress: signed issues.labeled → 202\n');
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const dir = await mkdtemp(join(tmpdir(), 'doom-bench-webhook-'));
  const secret = `bench-${randomUUID()}`;
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const env = readEnvironment({
    APP_ID: '1',
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: secret,
    DATABASE_URL: join(dir, 'doom.db'),
    LOG_LEVEL: 'silent',
  });
  const shipped = loadConfig(join(ROOT, 'config/doom-rlvr.toml'));
  // Mirrors and workspaces in the temp dir, never in the working tree.
  const loaded = {
    ...shipped,
    config: {
      ...shipped.config,
      executor: { ...shipped.config.executor, mirror_dir: join(dir, 'mirrors'), workspace_dir: join(dir, 'workspaces') },
    },
  };
  const github = fakeGitHub();
  const log = createLogger({ level: 'silent' });

  const targets: Target[] = [
    { key: 'bare', name: 'bare Hono: verify signature, 202' },
    { key: 'real', name: `doom-rlvr, GitHub API answers in ${API_LATENCY_MS} ms`, latencyMs: API_LATENCY_MS },
    { key: 'instant', name: 'doom-rlvr, GitHub API answers at once', latencyMs: 0 },
  ];

  let app: RunningApp | null = null;
  let bare: Awaited<ReturnType<typeof startBare>> | null = null;
  const worker = startLoadWorker();
  try {
    app = await startApp({
      env,
      loaded,
      log,
      port: 0,
      fetch: github.fetch,
      executor: idleExecutor(loaded.config.coordinator.max_concurrent_agents),
    });
    bare = await startBare(secret);
    const realPort = Number(new URL(app.url).port);
    const example = await labeledExample();
    let issue = 0;
    const nextIssue = () => ++issue;
    const trigger = loaded.config.labels.trigger;

    const results = new Map<string, LoadResult[]>(targets.map((t) => [t.key, []]));
    const background: string[] = [];
    let sentToReal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        // Each measurement starts with an empty inbox, so no target measures another's
        // leftover background work. The backlog drains with instant answers, to keep this short.
        github.latencyMs = 0;
        const before = await waitForInbox(app);
        if (!before.drained) console.log(`warning: the inbox did not drain in ${DRAIN_TIMEOUT_MS} ms: ${JSON.stringify(before.counts)}`);
        github.latencyMs = target.latencyMs ?? 0;
        const port = target.key === 'bare' ? bare.port : realPort;
        const warm = await makeDeliveries(example, trigger, secret, nextIssue, WARMUP);
        check(await worker.load({ port, deliveries: warm, concurrency: CONCURRENCY }), `${target.name} (warm-up)`);
        const measured = await makeDeliveries(example, trigger, secret, nextIssue, REQUESTS);
        const result = await worker.load({ port, deliveries: measured, concurrency: CONCURRENCY });
        check(result, target.name);
        results.get(target.key)!.push(result);
        if (target.key !== 'bare') {
          sentToReal += WARMUP + REQUESTS;
          const counts = await deliveryCounts(app.store.db);
          const handled = (counts.done ?? 0) + (counts.failed ?? 0) - (before.counts.done ?? 0) - (before.counts.failed ?? 0);
          background.push(
            `round ${round + 1}, ${target.name}: ${handled} of the ${WARMUP + REQUESTS} deliveries handled by the end of the measurement`,
          );
        }
      }
    }

    // Ratios pair each round's real run with the bare run just before it: drift in whatever
    // else the machine is doing hits both sides of a pair alike.
    const bareRates = summarize(results.get('bare')!).rates;
    const fmt = (x: number, digits = 0) => x.toFixed(digits);
    const rows = targets.map((t) => {
      const s = summarize(results.get(t.key)!);
      const ratio = t.key === 'bare' ? null : median(s.rates.map((r, i) => r / bareRates[i]!));
      return { target: t, s, ratio };
    });
    console.log(
      table([
        ['target', 'deliveries/s', 'per round', 'p50 ms', 'p99 ms', '÷ bare'],
        ...rows.map(({ target, s, ratio }) => [
          target.name,
          fmt(s.rate),
          s.rates.map((r) => fmt(r)).join(' / '),
          fmt(s.p50, 1),
          fmt(s.p99, 1),
          ratio === null ? '1' : fmt(ratio, 2),
        ]),
      ]),
    );
    console.log('');
    for (const { target, ratio } of rows) {
      if (ratio === null) continue;
      console.log(`${target.name}: ${fmt(ratio, 2)} of the bare throughput (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'})`);
    }

    // Exactly once: one row per delivery sent, and a redelivery is recognised, not stored again.
    const db = app.store.db;
    const stored = await db
      .selectFrom('webhook_deliveries')
      .select([(eb) => eb.fn.countAll<number>().as('rows'), (eb) => eb.fn.count<number>('delivery_id').distinct().as('ids')])
      .where('forge', '=', 'github')
      .executeTakeFirstOrThrow();
    const sample = await db.selectFrom('webhook_deliveries').select(['delivery_id', 'body']).orderBy('id').limit(20).execute();
    let duplicates = 0;
    for (const row of sample) {
      const response = await fetch(`${app.url}${PATH}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'issues',
          'x-github-delivery': row.delivery_id,
          'x-hub-signature-256': await sign(secret, row.body),
        },
        body: row.body,
      });
      const answer = (await response.json()) as { duplicate?: boolean };
      if (response.status === 202 && answer.duplicate === true) duplicates++;
    }
    const after = await db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<number>().as('rows')).executeTakeFirstOrThrow();
    const exactlyOnce =
      Number(stored.rows) === sentToReal &&
      Number(stored.ids) === sentToReal &&
      duplicates === sample.length &&
      Number(after.rows) === sentToReal;
    console.log(
      `inbox: ${Number(stored.rows)} rows, ${Number(stored.ids)} distinct delivery ids for ${sentToReal} deliveries sent; ` +
        `${duplicates}/${sample.length} redeliveries answered 202 duplicate and not stored again: ${exactlyOnce ? 'exactly once' : 'MISMATCH'}`,
    );

    github.latencyMs = 0;
    const drained = await waitForInbox(app);
    const api = [...github.calls].map(([route, n]) => `${n} × ${route}`).join(', ');
    const doubled = [...github.commentsByIssue].filter(([, ids]) => ids.length > 1).map(([issue]) => `#${issue.split('/').pop()}`);
    console.log(
      `\nbackground: the inbox processor ran during every doom-rlvr measurement (concurrency ${loaded.config.inbox.concurrency}; ` +
        `one new task per delivery: stored, routed while agents have room, sticky comment; runs go to a stub executor ` +
        `that holds them in flight), on the same event loop and SQLite connection as the ingress.\n  ${background.join('\n  ')}\n` +
        `  after the run: ${JSON.stringify(drained.counts)}; GitHub API answered locally: ${api || 'none'}\n` +
        `  sticky comments: ${github.commentsByIssue.size} issues commented, ${doubled.length} of them more than once` +
        (doubled.length > 0 ? ` (${doubled.slice(0, 10).join(', ')}): the bot should keep one per task` : ''),
    );
    console.log(
      `\nsetup: ${ROUNDS} rounds, each target in turn, ${WARMUP} warm-up + ${REQUESTS} measured deliveries per target and round ` +
        `(${Buffer.byteLength(sample[0]?.body ?? '')} B bodies), ${CONCURRENCY} concurrent keep-alive connections on 127.0.0.1. ` +
        `deliveries/s: the median round; p50/p99: over all measured requests; ÷ bare: median of the per-round ratios. ` +
        `The load generator runs in a worker thread of this process (its own event loop) and shares the machine's ` +
        `${availableParallelism()} CPUs with the server (load average ${loadBefore} before, ` +
        `${loadavg().map((x) => x.toFixed(2)).join(' ')} after: anything else running skews the figures). ` +
        `SQLite in WAL mode, synchronous=FULL, in ${tmpdir()}. Node ${process.version}.`,
    );
    if (!exactlyOnce) throw new Error('the real server did not store every delivery exactly once');
  } finally {
    await worker.close();
    await bare?.stop();
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) workerMain();
else if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
