/**
 * A process killed with SIGKILL right after answering 202s, then restarted on the same
 * store: every stored delivery is processed, and its effects happen exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { postGitLab, repoRoot, testEnv, waitFor } from '../helpers/app.js';

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

function startChild(dir: string, delayMs: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/helpers/crash-server.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...testEnv(join(dir, 'doom.db')),
      APP_ID: '',
      DOOM_CONFIG: join(repoRoot, 'config/doom-rlvr.toml'),
      DOOM_TEST_API_LOG: join(dir, 'gitlab-api.jsonl'),
      DOOM_TEST_API_DELAY_MS: String(delayMs),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
}

const exited = (child: ChildProcess) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));

describe('kill and restart', () => {
  let dir: string;
  let children: ChildProcess[] = [];
  let store: Store | undefined;

  afterEach(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    children = [];
  });

  it('processes every delivery accepted before a SIGKILL exactly once after restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'doom-crash-'));
    // GitLab answers slowly, so the kill lands while deliveries are mid-flight.
    const first = await startChild(dir, 150);
    children.push(first.child);
    const ids = Array.from({ length: 8 }, (_, i) => i + 1);
    const keys = ids.map(() => crypto.randomUUID());
    for (const [i, iid] of ids.entries()) {
      const res = await postGitLab(first.url, 'Issue Hook', labeledIssue(iid), { idempotencyKey: keys[i] });
      expect(res.status).toBe(202);
    }
    first.child.kill('SIGKILL');
    await exited(first.child);

    store = await openStore(join(dir, 'doom.db'));
    const db = store.db;
    const before = await db.selectFrom('webhook_deliveries').select('status').execute();
    expect(before).toHaveLength(8);
    // The kill left work undone (otherwise this test proves nothing).
    expect(before.some((d) => d.status !== 'done')).toBe(true);

    const second = await startChild(dir, 0);
    children.push(second.child);
    // A redelivery from GitLab after the outage changes nothing.
    expect(await (await postGitLab(second.url, 'Issue Hook', labeledIssue(1), { idempotencyKey: keys[0] })).json()).toEqual({
      accepted: true,
      duplicate: true,
    });
    await waitFor(async () => {
      const rows = await db.selectFrom('webhook_deliveries').select('status').execute();
      const tasks = await db.selectFrom('tasks').select('comment_hash').execute();
      return rows.every((r) => r.status === 'done') && tasks.length === 8 && tasks.every((t) => t.comment_hash !== null);
    }, 'every delivery to be processed after the restart');

    const deliveries = await db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(deliveries.map((d) => d.delivery_id).sort()).toEqual([...keys].sort());
    const tasks = await db.selectFrom('tasks').selectAll().orderBy('issue_number').execute();
    expect(tasks.map((t) => t.issue_number)).toEqual(ids);
    const created = await db.selectFrom('audit_log').select('task_id').where('event', '=', 'task.created').execute();
    expect(created.map((c) => c.task_id).sort()).toEqual(tasks.map((t) => t.id).sort());
    // Capacity for bugfix at P2: junior 1 + senior 2 + principal 2.
    const assignments = await db.selectFrom('assignments').selectAll().execute();
    expect(assignments).toHaveLength(5);
    expect(new Set(assignments.map((a) => a.task_id)).size).toBe(5);

    // One note per issue on "GitLab", whatever happened in between.
    const calls = readFileSync(join(dir, 'gitlab-api.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { method: string; path: string });
    const posts = calls.filter((c) => c.method === 'POST').map((c) => c.path);
    expect(posts.sort()).toEqual(ids.map((iid) => `/api/v4/projects/1/issues/${iid}/notes`).sort());
  });
});
