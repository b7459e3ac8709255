/**
 * A run that ends while Postgres is down: the coordinator holds its result, starts nothing,
 * and records it (task completed, one merge request) once the database is back. The real
 * local executor and scripted runner, a real bare repository as the remote, GitLab's API
 * played by nock, and a Postgres cluster of the test's own.
 */
import { resolve } from 'node:path';
import nock from 'nock';
import { afterAll, describe, expect, it } from 'vitest';
import type { Executor, RunResult } from '../../src/executor/contract.js';
import { LocalExecutor } from '../../src/executor/local.js';
import { startTestApp, waitFor, postGitLab, type TestApp } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { createPostgresCluster, findPostgresBin, type PostgresCluster } from '../helpers/postgres-cluster.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';

const bin = findPostgresBin();
const title = bin
  ? 'runs across a Postgres outage'
  : 'runs across a Postgres outage (skipped: no initdb in /usr/lib/postgresql/*/bin or on PATH)';

/**
 * The real executor, whose results the test releases: a run's agent has finished and pushed,
 * and its result reaches the coordinator only when the test says so.
 */
function heldExecutor(inner: Executor) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let ended!: () => void;
  const agentDone = new Promise<void>((r) => (ended = r));
  const executor: Executor = {
    capacity: inner.capacity,
    async run(request, signal): Promise<RunResult> {
      const result = await inner.run(request, signal);
      ended();
      await released;
      return result;
    },
  };
  return { executor, release, agentDone };
}

describe.skipIf(!bin)(title, () => {
  let cluster: PostgresCluster | undefined;
  let app: TestApp | undefined;
  let dir: { path: string; cleanup: () => Promise<void> } | undefined;

  onlyLocalNetwork();
  afterAll(async () => {
    await app?.close();
    nock.cleanAll();
    await cluster?.destroy();
    await dir?.cleanup();
  });

  it('records a run that ended during the outage once the database is back', async () => {
    dir = await tempDir('doom-runs-outage-');
    const remote: Remote = await createRemote(dir.path);
    const gitlab = new FakeGitLab().install();
    cluster = await createPostgresCluster(bin!);
    const held = heldExecutor(
      new LocalExecutor({
        mirrorDir: resolve(dir.path, 'mirrors'),
        workspaceDir: resolve(dir.path, 'workspaces'),
        mirrorDiskBudgetBytes: 100 * 1024 * 1024,
        capacity: 1,
      }),
    );
    app = await startTestApp({
      env: { DATABASE_URL: cluster.url },
      executor: held.executor,
      tweak: (loaded) => {
        for (const a of loaded.agents) {
          a.runner = { kind: 'scripted', script: ['node', '-e', `require('fs').appendFileSync('README.md', '\\nFixed across an outage.\\n')`] };
        }
      },
    });
    const db = app.store.db;
    const task = async () => (await db.selectFrom('tasks').selectAll().executeTakeFirst())!;

    expect((await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)))).status).toBe(202);
    await held.agentDone;
    expect((await task()).status).toBe('in_progress');

    await cluster.stop('immediate');
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
    // The result reaches the coordinator now, with nowhere to write it.
    held.release();
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect(gitlab.made('POST', /merge_requests$/)).toEqual([]);

    await cluster.start();
    const done = await waitFor(async () => ((await task()).status === 'completed' ? task() : undefined), 'the task to complete');
    await app.runs.idle();
    expect(done.pr_number).toBe(1);
    expect(gitlab.made('POST', /merge_requests$/)).toHaveLength(1);
    const runs = await db.selectFrom('assignments').select(['status', 'outcome']).execute();
    // Recorded, not re-queued: the agent's work was kept.
    expect(runs).toEqual([{ status: 'completed', outcome: 'success' }]);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  });
});
