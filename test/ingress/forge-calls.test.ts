/**
 * Forge calls that fail half-way, through the real HTTP server: a comment POST the forge
 * performed but answered 502 (on both forges), and a call that never answers. The bot must end
 * with exactly one comment, and the delivery done.
 */
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { GITLAB_TOKEN, GITLAB_URL, postGitHub, postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const INSTALLATION = 4242;
const GITHUB_NOTES = '/repos/Codertocat/Hello-World/issues/1/comments';
const GITLAB_NOTES = '/api/v4/projects/1/issues/23/notes';

type Example = Record<string, unknown> & { action?: string };

/** The published `issues.labeled` example, delivered to an installation, labeled `doom`. */
function githubLabeled(): Example {
  const group = (examples as { name: string; examples: Example[] }[]).find((e) => e.name === 'issues');
  const payload = structuredClone(group!.examples.find((e) => e.action === 'labeled')!) as Example & {
    issue: { labels: { name: string; id: number }[] };
    label: { name: string; id: number; url: string };
  };
  const doom = { ...payload.label, id: 9001, name: 'doom', url: payload.label.url.replace(/bug$/, 'doom'), default: false };
  payload.issue.labels.push(doom);
  payload.label = doom;
  payload.installation = { id: INSTALLATION, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==' };
  return payload;
}

const deliveries = (app: TestApp) => app.store.db.selectFrom('webhook_deliveries').selectAll().execute();
const tasks = (app: TestApp) => app.store.db.selectFrom('tasks').selectAll().execute();

describe('forge calls that fail half-way', () => {
  let app: TestApp | undefined;

  onlyLocalNetwork();
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
  });

  it('GitHub: a comment POST answered 502 after it was applied leaves one comment', async () => {
    const github = new FakeGitHub('Codertocat/Hello-World', INSTALLATION);
    let lostAnswers = 0;
    // Registered before the fake, so it answers the first POST: GitHub stores the comment,
    // the proxy in front of it loses the answer.
    nock('https://api.github.com')
      .post(GITHUB_NOTES)
      .reply(502, (_uri, body) => {
        lostAnswers++;
        github.comments.set(1, [{ id: 7001, body: String((body as { body: string }).body), user: github.bot }]);
        return '<html><body><h1>502 Bad Gateway</h1></body></html>';
      });
    github.install();
    app = await startTestApp();

    expect((await postGitHub(app.url, 'issues', github.issueFrom(githubLabeled()))).status).toBe(202);
    await settled(app);

    expect(lostAnswers).toBe(1);
    expect(github.made('POST', /\/issues\/1\/comments$/)).toEqual([]); // never posted again
    expect(github.comments.get(1)).toHaveLength(1);
    const [task] = await tasks(app);
    expect(task).toMatchObject({ status: 'assigned', comment_id: 7001 });
    expect((await deliveries(app))[0]).toMatchObject({ status: 'done' });
  });

  it('GitLab: a note POST answered 502 after it was applied leaves one note', async () => {
    const gitlab = new FakeGitLab();
    let lostAnswers = 0;
    nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } })
      .post(GITLAB_NOTES)
      .reply(502, (_uri, body) => {
        lostAnswers++;
        gitlab.notes.set(GITLAB_NOTES, [{ id: 8001, body: String((body as { body: string }).body), system: false, noteable_type: 'Issue' }]);
        return '<html>502 Bad Gateway</html>';
      });
    gitlab.install();
    app = await startTestApp();

    expect((await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue('file:///nowhere.git')))).status).toBe(202);
    await settled(app);

    expect(lostAnswers).toBe(1);
    expect(gitlab.made('POST', /\/issues\/23\/notes$/)).toEqual([]);
    expect(gitlab.notes.get(GITLAB_NOTES)).toHaveLength(1);
    const [task] = await tasks(app);
    expect(task).toMatchObject({ status: 'assigned', comment_id: 8001 });
    expect((await deliveries(app))[0]).toMatchObject({ status: 'done' });
  });

  it('GitLab: a POST that never answers is cut by request_timeout_ms, not resent, and the delivery retried', async () => {
    const gitlab = new FakeGitLab();
    nock(GITLAB_URL).post(GITLAB_NOTES).delay(60_000).reply(201, {});
    gitlab.install();
    app = await startTestApp({ tweak: (l) => void (l.config.forges.request_timeout_ms = 200) });

    expect((await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue('file:///nowhere.git')))).status).toBe(202);
    await settled(app);

    // First try: looked for the note, POST timed out, looked again (not there), failed.
    // Second try: looked, posted once.
    expect(gitlab.made('POST', /\/issues\/23\/notes$/)).toHaveLength(1);
    expect(gitlab.notes.get(GITLAB_NOTES)).toHaveLength(1);
    const [delivery] = await deliveries(app);
    expect(delivery).toMatchObject({ status: 'done', attempts: 2 });
  });
});
