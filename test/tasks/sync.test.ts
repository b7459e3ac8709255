/** The sticky comment under concurrency: two syncs of one task at once post one comment. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createForgeDirectory } from '../../src/forges/directory.js';
import { noEvents } from '../../src/events.js';
import { createLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/db.js';
import { insertTask, updateTask } from '../../src/store/tasks.js';
import { TaskService } from '../../src/tasks/service.js';
import { GITLAB_TOKEN, GITLAB_URL } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { newTask } from '../helpers/tasks.js';

describe('TaskService.syncIssue', () => {
  let store: Store;
  let dir: string;
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    nock.cleanAll();
  });

  it('posts one comment when the router and a starting run sync the same task at once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'doom-sync-'));
    store = await openStore(join(dir, 'doom.db'));
    const gitlab = new FakeGitLab().install();
    const service = new TaskService({
      db: store.db,
      config: configSchema.parse({}),
      forges: createForgeDirectory({ gitlab: { url: GITLAB_URL, token: GITLAB_TOKEN } }),
      log: createLogger({ level: 'silent' }),
      events: noEvents,
    });
    const { task } = await insertTask(store.db, newTask({ forge: 'gitlab', repo_id: 1, repo: 'gitlabhq/gitlab-test', issue_number: 23 }));
    await Promise.all([service.syncIssue(task), service.syncIssue(task), service.syncIssue(task)]);
    expect(gitlab.made('POST', /issues\/23\/notes$/)).toHaveLength(1);

    // A later change edits that comment; syncing unchanged state calls nothing.
    await updateTask(store.db, task.id, { status: 'failed', error_message: 'cancelled: the issue was closed' });
    await Promise.all([service.syncIssue(task), service.syncIssue(task)]);
    expect(gitlab.made('PUT', /notes\/\d+$/)).toHaveLength(1);
    expect(gitlab.made('POST', /issues\/23\/notes$/)).toHaveLength(1);
    expect(gitlab.notes.get('/api/v4/projects/1/issues/23/notes')![0]!.body).toContain('cancelled: the issue was closed');
  });
});
