/**
 * GitHub deliveries through the real HTTP server: signed with the App's secret, stored,
 * answered 202, then processed into tasks, with the GitHub API mocked by nock.
 */
import http from 'node:http';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postGitHub, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { githubIssueState, githubPermissions } from '../helpers/github-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const INSTALLATION = 4242;
const API = 'https://api.github.com';
const ISSUE_PATH = '/repos/Codertocat/Hello-World/issues/1';

type Example = Record<string, unknown> & { action?: string };
function example(event: string, action?: string): Example {
  const group = (examples as { name: string; examples: Example[] }[]).find((e) => e.name === event);
  const found = group?.examples.find((e) => action === undefined || e.action === action);
  if (!found) throw new Error(`no ${event}.${action} example`);
  return structuredClone(found);
}

/**
 * The published `issues.labeled` example, as a GitHub App installation receives it: App
 * deliveries carry `installation`, and the maintainer added the trigger label `doom`.
 */
function labeledWithTrigger(extraLabels: string[] = []): Example {
  const payload = example('issues', 'labeled') as Example & {
    issue: { labels: { name: string; id: number }[] };
    label: { name: string; id: number; url: string };
  };
  const base = payload.label;
  const doom = { ...base, id: 9001, name: 'doom', url: base.url.replace(/bug$/, 'doom'), default: false };
  payload.issue.labels.push(doom, ...extraLabels.map((name, i) => ({ ...base, id: 9100 + i, name })));
  payload.label = doom;
  payload.installation = { id: INSTALLATION, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==' };
  return payload;
}

const installationToken = () =>
  nock(API)
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .reply(201, {
      token: 'ghs_16C7e42F292c6912E7710c838347Ae178B4a',
      expires_at: '2099-07-11T22:14:10Z',
      permissions: { issues: 'write', pull_requests: 'write', contents: 'write', metadata: 'read' },
      repository_selection: 'selected',
    });

const commentResponse = (id: number, body: string) => ({
  url: `${API}${ISSUE_PATH.replace('/1', '')}/comments/${id}`,
  html_url: `https://github.com/Codertocat/Hello-World/issues/1#issuecomment-${id}`,
  issue_url: `${API}${ISSUE_PATH}`,
  id,
  node_id: 'MDEyOklzc3VlQ29tbWVudDQ5MjcwMDQwMA==',
  user: { login: 'doom-rlvr[bot]', id: 41898282, type: 'Bot', site_admin: false },
  created_at: '2026-11-21T10:00:00Z',
  updated_at: '2026-11-21T10:00:00Z',
  author_association: 'NONE',
  body,
});

/** What the first sync of a new task calls: a token, the comment search, the comment, the label. */
function mockFirstSync(commentId: number) {
  installationToken();
  nock(API)
    .get(`${ISSUE_PATH}/comments`)
    .query(true)
    .reply(200, [])
    .post(`${ISSUE_PATH}/comments`)
    .reply(201, commentResponse(commentId, 'x'))
    .post(`${ISSUE_PATH}/labels`)
    .reply(200, []);
}

async function tasks(app: TestApp) {
  return app.store.db.selectFrom('tasks').selectAll().orderBy('id').execute();
}
async function deliveries(app: TestApp) {
  return app.store.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();
}

describe('GitHub webhooks', () => {
  let app: TestApp;
  let issues: ReturnType<typeof githubIssueState>;

  onlyLocalNetwork();
  beforeEach(async () => {
    app = await startTestApp({ tweak: (l) => (l.config.inbox.max_attempts = 3) });
    githubPermissions('Codertocat/Hello-World');
    issues = githubIssueState('Codertocat/Hello-World');
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  it('turns a labeled issue into one assigned task, with one sticky comment and the assigned label', async () => {
    const posted: string[] = [];
    installationToken();
    const api = nock(API)
      .get(`${ISSUE_PATH}/comments`)
      .query(true)
      .reply(200, [])
      .post(`${ISSUE_PATH}/comments`, (b: { body: string }) => {
        posted.push(b.body);
        return true;
      })
      .reply(201, (_uri, b) => commentResponse(1001, (b as { body: string }).body))
      .post(`${ISSUE_PATH}/labels`, { labels: ['doom:assigned'] })
      .reply(200, [{ id: 1, name: 'doom:assigned', color: 'ededed', default: false }]);

    const delivery = crypto.randomUUID();
    const res = await postGitHub(app.url, 'issues', issues.from(labeledWithTrigger()), { delivery });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: true, duplicate: false });

    await settled(app);
    expect(api.pendingMocks()).toEqual([]);
    const [task, ...more] = await tasks(app);
    expect(more).toEqual([]);
    expect(task).toMatchObject({
      forge: 'github',
      repo: 'Codertocat/Hello-World',
      repo_id: 186853002,
      installation_id: INSTALLATION,
      issue_number: 1,
      type: 'bugfix', // from the `bug` label
      priority: 'P2',
      status: 'assigned',
      assigned_agent: 'agent-bugfix-junior',
      comment_id: 1001,
    });
    expect(JSON.parse(task!.tags)).toEqual([]);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toContain(`<!-- doom-rlvr:task:${task!.id} -->`);
    expect(posted[0]).toContain('`agent-bugfix-junior` — junior, rolling average 0.00');
    expect(posted[0]).toContain('Why this agent');
    expect(posted[0]).not.toContain('ghs_');

    const audit = await app.store.db.selectFrom('audit_log').select(['event', 'agent_name']).orderBy('id').execute();
    expect(audit.map((a) => a.event)).toEqual(['permission.allowed', 'task.created', 'task.assigned']);
    expect((await deliveries(app)).map((d) => [d.delivery_id, d.status, d.attempts])).toEqual([[delivery, 'done', 1]]);
  });

  it('answers a redelivery 202 and does nothing twice', async () => {
    mockFirstSync(1002);
    const delivery = crypto.randomUUID();
    const payload = labeledWithTrigger();
    expect((await postGitHub(app.url, 'issues', issues.from(payload), { delivery })).status).toBe(202);
    await settled(app);

    const again = await postGitHub(app.url, 'issues', issues.from(payload), { delivery });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ accepted: true, duplicate: true });
    // Another delivery of the same state (GitHub sends one per label) changes nothing either:
    // no API call is mocked for it, so any call would fail the delivery.
    expect((await postGitHub(app.url, 'issues', issues.from(payload))).status).toBe(202);
    await settled(app);

    expect(await tasks(app)).toHaveLength(1);
    const stored = await deliveries(app);
    expect(stored).toHaveLength(2);
    expect(stored.every((d) => d.status === 'done')).toBe(true);
    const assigned = await app.store.db.selectFrom('assignments').selectAll().execute();
    expect(assigned).toHaveLength(1);
  });

  it('edits the existing comment when the task changes instead of posting another', async () => {
    mockFirstSync(1003);
    await postGitHub(app.url, 'issues', issues.from(labeledWithTrigger()));
    await settled(app);

    // The maintainer adds P0: the task is re-routed to the principal, the comment edited.
    let edited = '';
    nock(API)
      .patch('/repos/Codertocat/Hello-World/issues/comments/1003', (b: { body: string }) => {
        edited = b.body;
        return true;
      })
      .reply(200, commentResponse(1003, 'edited'))
      .post(`${ISSUE_PATH}/labels`)
      .reply(200, []);
    const payload = labeledWithTrigger(['P0']) as Example & { label: { name: string } };
    payload.label = { ...payload.label, name: 'P0' };
    await postGitHub(app.url, 'issues', issues.from(payload));
    await settled(app);

    expect(nock.pendingMocks()).toEqual([]);
    const [task] = await tasks(app);
    expect(task).toMatchObject({ priority: 'P0', status: 'assigned', assigned_agent: 'agent-principal' });
    expect(edited).toContain('bugfix / P0');
    const runs = await app.store.db.selectFrom('assignments').select(['agent_name', 'status']).orderBy('id').execute();
    expect(runs).toEqual([
      { agent_name: 'agent-bugfix-junior', status: 'cancelled' },
      { agent_name: 'agent-principal', status: 'assigned' },
    ]);
  });

  it('takes a new description into an assigned task without re-routing it', async () => {
    mockFirstSync(1006);
    const payload = labeledWithTrigger();
    await postGitHub(app.url, 'issues', issues.from(payload));
    await settled(app);

    // issues.edited: same labels, a new body. The comment shows nothing that changed, so no
    // API call is made (none is mocked: one would fail the delivery).
    const edited = { ...payload, action: 'edited', issue: { ...(payload.issue as object), body: 'Also check the footer.' } };
    delete (edited as Record<string, unknown>).label;
    await postGitHub(app.url, 'issues', issues.from(edited));
    await settled(app);
    expect((await deliveries(app)).map((d) => d.status)).toEqual(['done', 'done']);
    const [task] = await tasks(app);
    expect(task).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-junior' });
    expect(task!.description).toBe('Spelling error in the README file\n\nAlso check the footer.');
    const runs = await app.store.db.selectFrom('assignments').select('status').execute();
    expect(runs).toEqual([{ status: 'assigned' }]);
  });

  it('refuses a bad or missing signature with 401 and stores nothing', async () => {
    const payload = labeledWithTrigger();
    const wrong = await postGitHub(app.url, 'issues', issues.from(payload), { signature: 'sha256=' + '0'.repeat(64) });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'invalid or missing X-Hub-Signature-256' });
    const missing = await postGitHub(app.url, 'issues', issues.from(payload), { signature: null });
    expect(missing.status).toBe(401);
    const garbage = await postGitHub(app.url, 'issues', issues.from(payload), { signature: 'not-a-signature' });
    expect(garbage.status).toBe(401);
    // Signed over different bytes than the ones sent (a re-serialized body).
    const body = JSON.stringify(payload, null, 2);
    const reserialized = await postGitHub(app.url, 'issues', issues.from(payload), {
      body,
      signature: (await import('../helpers/app.js')).signGitHub(JSON.stringify(payload)),
    });
    expect(reserialized.status).toBe(401);
    expect(await deliveries(app)).toEqual([]);
  });

  it('answers malformed JSON 400 and missing delivery headers 400, storing nothing', async () => {
    const bad = await postGitHub(app.url, 'issues', null, { body: '{"action": "labeled",' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'body is not valid JSON' });

    const body = JSON.stringify(labeledWithTrigger());
    const { signGitHub } = await import('../helpers/app.js');
    const res = await fetch(`${app.url}/api/github/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signGitHub(body), 'x-github-event': 'issues' },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'missing X-GitHub-Delivery or X-GitHub-Event header' });
    expect(await deliveries(app)).toEqual([]);
  });

  it('acknowledges events and actions it does not handle, and ignores them', async () => {
    const star = example('star', 'created');
    star.installation = { id: INSTALLATION };
    expect((await postGitHub(app.url, 'star', star)).status).toBe(202);
    const assigned = example('issues', 'assigned');
    expect((await postGitHub(app.url, 'issues', issues.from(assigned))).status).toBe(202);
    expect((await postGitHub(app.url, 'ping', { zen: 'Keep it logically awesome.', hook_id: 1 })).status).toBe(202);
    await settled(app);
    const stored = await deliveries(app);
    expect(stored.map((d) => d.status)).toEqual(['done', 'done', 'done']);
    expect(await tasks(app)).toEqual([]);
  });

  it('marks a handled delivery with a malformed payload failed at once, naming the field', async () => {
    const payload = labeledWithTrigger() as Example & { issue: Record<string, unknown> };
    delete payload.issue.number;
    expect((await postGitHub(app.url, 'issues', issues.from(payload))).status).toBe(202);
    await settled(app);
    const [d] = await deliveries(app);
    expect(d).toMatchObject({ status: 'failed', attempts: 1 });
    expect(d!.last_error).toContain('issue.number');
    expect(await tasks(app)).toEqual([]);
  });

  it('retries a delivery whose handler fails, with backoff, then succeeds', async () => {
    installationToken();
    nock(API)
      .get(`${ISSUE_PATH}/comments`)
      .query(true)
      .reply(200, [])
      // A 500 to a POST is not resent by the HTTP layer (it may have been applied)...
      .post(`${ISSUE_PATH}/comments`)
      .reply(500, { message: 'Server Error' })
      // ...it is looked for at once (not there), so the delivery fails; on its next try the
      // comment is searched for again first.
      .get(`${ISSUE_PATH}/comments`)
      .query(true)
      .times(2)
      .reply(200, [])
      .post(`${ISSUE_PATH}/comments`)
      .reply(201, commentResponse(1004, 'x'))
      .post(`${ISSUE_PATH}/labels`)
      .reply(200, []);
    await postGitHub(app.url, 'issues', issues.from(labeledWithTrigger()));
    await settled(app);
    expect(nock.pendingMocks()).toEqual([]);
    const [d] = await deliveries(app);
    expect(d).toMatchObject({ status: 'done', attempts: 2, last_error: null });
    const [task] = await tasks(app);
    expect(task).toMatchObject({ status: 'assigned', comment_id: 1004 });
  });

  it('marks a delivery failed with its error after the last try', async () => {
    installationToken();
    nock(API).get(`${ISSUE_PATH}/comments`).query(true).times(3).reply(404, { message: 'Not Found' });
    await postGitHub(app.url, 'issues', issues.from(labeledWithTrigger()));
    await settled(app);
    expect(nock.pendingMocks()).toEqual([]);
    const [d] = await deliveries(app);
    expect(d).toMatchObject({ status: 'failed', attempts: 3 });
    expect(d!.last_error).toMatch(/404/);
    // The task itself was stored before the forge failed; it waits, assigned, for the comment.
    expect((await tasks(app))[0]).toMatchObject({ status: 'assigned', comment_hash: null });
  });

  it('refuses a body over the limit with 413, with or without Content-Length', async () => {
    await app.close();
    app = await startTestApp({ tweak: (l) => (l.config.server.max_body_bytes = 64 * 1024) });
    const big = JSON.stringify({ padding: 'x'.repeat(200 * 1024) });
    const res = await postGitHub(app.url, 'issues', null, { body: big });
    expect(res.status).toBe(413);

    // Chunked, no Content-Length: the server must stop reading, not buffer it all.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${app.url}/api/github/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': 'chunked-1', 'x-hub-signature-256': 'sha256=00' },
      });
      req.on('response', (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 16; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
    expect(await deliveries(app)).toEqual([]);
  });

  it('cancels the task when the trigger label is removed, and frees the agent', async () => {
    mockFirstSync(1005);
    await postGitHub(app.url, 'issues', issues.from(labeledWithTrigger()));
    await settled(app);

    let body = '';
    nock(API)
      .patch('/repos/Codertocat/Hello-World/issues/comments/1005', (b: { body: string }) => {
        body = b.body;
        return true;
      })
      .reply(200, commentResponse(1005, 'x'))
      // The task ended: the assigned label comes off.
      .delete('/repos/Codertocat/Hello-World/issues/1/labels/doom%3Aassigned')
      .reply(200, []);
    const unlabeled = example('issues', 'unlabeled') as Example & { issue: { labels: unknown[] } };
    unlabeled.installation = { id: INSTALLATION };
    await postGitHub(app.url, 'issues', issues.from(unlabeled));
    await settled(app);
    expect(nock.pendingMocks()).toEqual([]);
    const [task] = await tasks(app);
    expect(task).toMatchObject({ status: 'failed', error_message: 'cancelled: the "doom" label was removed' });
    expect(body).toContain('**failed**');
    expect((await deliveries(app)).map((d) => d.status)).toEqual(['done', 'done']);
    await waitFor(async () => {
      const load = await app.store.db.selectFrom('assignments').select('status').execute();
      return load.every((a) => a.status === 'cancelled');
    }, 'the assignment to be released');
  });

  it('answers 404 when GitHub is not configured', async () => {
    await app.close();
    app = await startTestApp({ env: { APP_ID: '' } });
    const res = await postGitHub(app.url, 'issues', issues.from(labeledWithTrigger()));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toContain('APP_ID');
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok', forges: { github: false, gitlab: true } });
  });
});
