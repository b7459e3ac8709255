/**
 * A Postgres outage under the running bot, on a cluster of the test's own: the bot (a real
 * child process) answers webhooks 503 and `/readyz` 503 while the database is down, stays
 * alive, and once the database is back accepts webhooks again and processes every delivery it
 * acknowledged, before or after, exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';
import { postGitLab, repoRoot, testEnv, waitFor } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { createPostgresCluster, findPostgresBin, type PostgresCluster } from '../helpers/postgres-cluster.js';

const bin = findPostgresBin();

const fixture = gitlabFixture('issue-hook.json') as {
  labels: { title: string; id: number }[];
  object_attributes: Record<string, unknown>;
};

function labeledIssue(iid: number) {
  const hook = structuredClone(fixture);
  const t = hook.labels[0]!;
  hook.labels = [{ ...t, id: 800, title: 'doom' }, { ...t, id: 801, title: 'bug' }];
  hook.object_attributes = { ...hook.object_attributes, iid, id: 5000 + iid, action: 'open', labels: hook.labels };
  return hook;
}

interface ApiCall {
  method: string;
  path: string;
}

function startBot(dir: string, databaseUrl: string, gate: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/helpers/crash-server.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...testEnv(databaseUrl),
      APP_ID: '',
      DOOM_CONFIG: join(repoRoot, 'config/doom-rlvr.toml'),
      DOOM_TEST_API_LOG: join(dir, 'gitlab-api.jsonl'),
      DOOM_TEST_API_GATE: gate,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (process.env.DOOM_TEST_BOT_LOG) appendFileSync(process.env.DOOM_TEST_BOT_LOG, chunk);
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`the bot exited early with ${code}`)));
  });
}

const title = bin
  ? 'a Postgres outage under the running bot'
  : 'a Postgres outage under the running bot (skipped: no initdb in /usr/lib/postgresql/*/bin or on PATH)';

describe.skipIf(!bin)(title, () => {
  let cluster: PostgresCluster | undefined;
  let bot: ChildProcess | undefined;
  let store: Store | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'doom-outage-'));
  const gate = join(dir, 'gitlab-answers');

  afterAll(async () => {
    if (bot?.exitCode === null) bot.kill('SIGKILL');
    await store?.close();
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const apiLog = join(dir, 'gitlab-api.jsonl');
  const apiCalls = (): ApiCall[] =>
    (existsSync(apiLog) ? readFileSync(apiLog, 'utf8') : '')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ApiCall);

  it('refuses webhooks with 503 while the database is down and loses nothing it acknowledged', async () => {
    cluster = await createPostgresCluster(bin!);
    const started = await startBot(dir, cluster.url, gate);
    bot = started.child;
    const { url } = started;
    const accepted = new Map<number, string>(); // iid → Idempotency-Key answered 202
    const send = async (iid: number, key: string = crypto.randomUUID()) => {
      const res = await postGitLab(url, 'Issue Hook', labeledIssue(iid), { idempotencyKey: key });
      if (res.status === 202) accepted.set(iid, key);
      return { res, key };
    };

    // GitLab holds its answers, so these deliveries are stored but not done when the database goes.
    for (const iid of [1, 2, 3, 4, 5, 6]) expect((await send(iid)).res.status).toBe(202);
    await waitFor(async () => apiCalls().some((c) => c.method === 'HELD'), 'a delivery in hand');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    await cluster.stop('immediate');

    const refused: { iid: number; key: string }[] = [];
    for (const iid of [7, 8]) {
      const { res, key } = await send(iid);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      const body = (await res.json()) as { error: string; store: { dialect: string; reachable: boolean; reason: string } };
      expect(body.error).toContain('the delivery was not stored');
      expect(body.store).toMatchObject({ dialect: 'postgres', reachable: false });
      expect(body.store.reason).not.toBe('');
      refused.push({ iid, key });
    }
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect(await ready.json()).toMatchObject({ status: 'unavailable', store: { dialect: 'postgres', reachable: false } });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // GitLab answers now: the deliveries in hand go on, and meet the database gone.
    writeFileSync(gate, '');
    await waitFor(async () => apiCalls().some((c) => c.method === 'RELEASED'), 'GitLab to answer a held request');
    expect((await send(9)).res.status).toBe(503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(bot.exitCode).toBeNull();

    await cluster.start();
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, '/readyz to answer 200 again');
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', store: { dialect: 'postgres', reachable: true }, inbox: { stuck: false } });
    // The forge sends the refused deliveries again, and new ones arrive.
    for (const { iid, key } of refused) expect((await send(iid, key)).res.status).toBe(202);
    for (const iid of [9, 10, 11]) expect((await send(iid)).res.status).toBe(202);

    store = await openStore(cluster.url);
    const db = store.db;
    await waitFor(async () => {
      const rows = await db.selectFrom('webhook_deliveries').select('status').execute();
      const tasks = await db.selectFrom('tasks').select('comment_hash').execute();
      const done = rows.length === accepted.size && rows.every((r) => r.status === 'done');
      return done && tasks.length === accepted.size && tasks.every((t) => t.comment_hash !== null);
    }, 'every acknowledged delivery to be processed');

    const deliveries = await db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(deliveries.map((d) => d.delivery_id).sort()).toEqual([...accepted.values()].sort());
    const iids = [...accepted.keys()].sort((a, b) => a - b);
    expect(iids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const tasks = await db.selectFrom('tasks').selectAll().orderBy('issue_number').execute();
    expect(tasks.map((t) => t.issue_number)).toEqual(iids);
    const created = await db.selectFrom('audit_log').select('task_id').where('event', '=', 'task.created').execute();
    expect(created.map((c) => c.task_id).sort()).toEqual(tasks.map((t) => t.id).sort());
    // One note per issue on "GitLab", though some deliveries were handled across the outage.
    const posts = apiCalls()
      .filter((c) => c.method === 'POST')
      .map((c) => c.path);
    expect(posts.sort()).toEqual(iids.map((iid) => `/api/v4/projects/1/issues/${iid}/notes`).sort());
    expect(bot.exitCode).toBeNull();
  });
});
