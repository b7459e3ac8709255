/**
 * GitLab deliveries through the real HTTP server, from the payloads in GitLab's own docs
 * (test/fixtures/gitlab), with the GitLab REST API mocked by nock.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitlabFixture, gitlabFixtureFiles, gitlabFixtureHeaders } from '../helpers/fixtures.js';
import { GITLAB_TOKEN, GITLAB_URL, postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { gitlabIssueState, gitlabMembers } from '../helpers/gitlab-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const fixture = (name: string): Record<string, unknown> => gitlabFixture(name);

type Label = { id: number; title: string } & Record<string, unknown>;

/** GitLab's issue example after a maintainer added `doom`, `security` and `P1` to it. */
function issueLabeled(): Record<string, unknown> {
  const hook = fixture('issue-hook.json') as {
    labels: Label[];
    object_attributes: Record<string, unknown>;
    changes: Record<string, unknown>;
  };
  const before = hook.labels;
  const template = before[0]!;
  const added = ['doom', 'security', 'P1'].map((title, i) => ({ ...template, id: 900 + i, title }));
  const after = [...before, ...added];
  hook.labels = after;
  hook.object_attributes.labels = after;
  hook.object_attributes.action = 'update';
  hook.changes = { labels: { previous: before, current: after } };
  return hook;
}

const NOTES = '/api/v4/projects/1/issues/23/notes';

const noteResponse = (id: number, body: string) => ({
  id,
  type: null,
  body,
  attachment: null,
  author: { id: 99, username: 'project_1_bot_3f2c', name: 'doom-rlvr', state: 'active', bot: true },
  created_at: '2026-11-21T10:00:00.000Z',
  updated_at: '2026-11-21T10:00:00.000Z',
  system: false,
  noteable_id: 301,
  noteable_type: 'Issue',
  project_id: 1,
  noteable_iid: 23,
  resolvable: false,
  confidential: false,
  internal: false,
});

describe('GitLab webhooks', () => {
  let app: TestApp;
  let issues: ReturnType<typeof gitlabIssueState>;

  onlyLocalNetwork();
  beforeEach(async () => {
    app = await startTestApp();
    gitlabMembers();
    issues = gitlabIssueState();
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const tasks = () => app.store.db.selectFrom('tasks').selectAll().orderBy('id').execute();
  const deliveries = () => app.store.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();

  it('turns a labeled issue into a routed task with one note and the assigned label', async () => {
    const posted: string[] = [];
    const api = nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } })
      .get(NOTES)
      .query(true)
      .reply(200, [noteResponse(1, 'a human comment')], { 'x-next-page': '' })
      .post(NOTES, (b: { body: string }) => {
        posted.push(b.body);
        return true;
      })
      .reply(201, (_u, b) => noteResponse(77, (b as { body: string }).body))
      .put('/api/v4/projects/1/issues/23', { add_labels: 'doom:assigned' })
      .reply(200, { id: 301, iid: 23, project_id: 1, labels: ['API', 'doom', 'security', 'P1', 'doom:assigned'] });

    const res = await postGitLab(app.url, 'Issue Hook', issues.from(issueLabeled()));
    expect(res.status).toBe(202);
    await settled(app);
    expect(api.pendingMocks()).toEqual([]);

    const [task, ...more] = await tasks();
    expect(more).toEqual([]);
    expect(task).toMatchObject({
      forge: 'gitlab',
      repo: 'gitlabhq/gitlab-test',
      repo_id: 1,
      issue_number: 23,
      type: 'security',
      priority: 'P1',
      status: 'assigned',
      // P1 allows senior and principal; a fresh pool breaks the tie by name.
      assigned_agent: 'agent-principal',
      comment_id: 77,
    });
    expect(JSON.parse(task!.tags)).toEqual(['API']);
    expect(posted[0]).toContain(`<!-- doom-rlvr:task:${task!.id} -->`);
    expect(posted[0]).not.toContain(GITLAB_TOKEN);
  });

  it('refuses a wrong or missing X-Gitlab-Token with 401 and stores nothing', async () => {
    expect((await postGitLab(app.url, 'Issue Hook', issues.from(issueLabeled()), { token: 'nope' })).status).toBe(401);
    expect((await postGitLab(app.url, 'Issue Hook', issues.from(issueLabeled()), { token: null })).status).toBe(401);
    // Same length as the real secret, one character off.
    const near = 'gitlab-webhook-secret-for-testz';
    expect((await postGitLab(app.url, 'Issue Hook', issues.from(issueLabeled()), { token: near })).status).toBe(401);
    expect(await deliveries()).toEqual([]);
  });

  it('answers malformed JSON and a missing X-Gitlab-Event with 400', async () => {
    const bad = await postGitLab(app.url, 'Issue Hook', null, { body: '{"object_kind":' });
    expect(bad.status).toBe(400);
    const res = await fetch(`${app.url}/api/gitlab/webhooks`, {
      method: 'POST',
      headers: { 'x-gitlab-token': 'gitlab-webhook-secret-for-tests', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'missing X-Gitlab-Event header' });
    expect(await deliveries()).toEqual([]);
  });

  it('dedupes on Idempotency-Key, else X-Gitlab-Event-UUID, else the body', async () => {
    const push = fixture('push-hook.json');
    const key = crypto.randomUUID();
    for (let i = 0; i < 2; i++) await postGitLab(app.url, 'Push Hook', push, { idempotencyKey: key });
    const uuid = crypto.randomUUID();
    for (let i = 0; i < 2; i++) await postGitLab(app.url, 'Push Hook', push, { idempotencyKey: null, eventUuid: uuid });
    // GitLab 11.x sends neither header: an identical body is the same delivery.
    const first = await postGitLab(app.url, 'Push Hook', push, { idempotencyKey: null });
    const second = await postGitLab(app.url, 'Push Hook', push, { idempotencyKey: null });
    expect(await first.json()).toEqual({ accepted: true, duplicate: false });
    expect(await second.json()).toEqual({ accepted: true, duplicate: true });
    await settled(app);
    const stored = await deliveries();
    expect(stored.map((d) => d.delivery_id)).toEqual([key, uuid, expect.stringMatching(/^sha256:[0-9a-f]{64}$/)]);
  });

  it('acknowledges every documented event and handles none of them as a task', async () => {
    const headers = gitlabFixtureHeaders();
    const files = gitlabFixtureFiles();
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const res = await postGitLab(app.url, headers.get(file) ?? 'Unknown Hook', fixture(file));
      expect(res.status, file).toBe(202);
    }
    await settled(app);
    const stored = await deliveries();
    expect(stored).toHaveLength(files.length);
    // None of the published examples carries the trigger label, so none becomes a task,
    // and none fails: unknown kinds are acknowledged and ignored.
    expect(stored.filter((d) => d.status !== 'done').map((d) => `${d.event}: ${d.last_error}`)).toEqual([]);
    expect(await tasks()).toEqual([]);
  });
});
