/**
 * Who may start an agent on GitLab, through the real HTTP server: GitLab's documented issue
 * hook (test/fixtures/gitlab), labeled `doom`, with the members API answered by nock.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';

/** The documented issue hook, labeled `doom` by `user`. */
function labeledBy(user: { id: number; username: string; bot?: boolean }) {
  const hook = labeledIssue('https://gitlab.example.com/gitlabhq/gitlab-test.git');
  hook.user = { ...hook.user, ...user, name: user.username };
  return hook;
}

const developer = { id: 31, username: 'dev', access_level: 30 };
const reporter = { id: 21, username: 'rita', access_level: 20 };
// Project access tokens act as bot users with a member role, often Maintainer.
const projectBot = { id: 41, username: 'project_1_bot_5e1f0c0d8e2a', access_level: 40 };

describe('who may start an agent on GitLab', () => {
  let app: TestApp;
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(() => {
    gitlab = new FakeGitLab().install();
    for (const m of [developer, reporter, projectBot]) gitlab.members.set(m.username, m);
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const tasks = () => app.store.db.selectFrom('tasks').selectAll().execute();
  const refusals = () => app.store.db.selectFrom('audit_log').selectAll().where('event', '=', 'permission.refused').execute();
  const notes = () => (gitlab.notes.get('/api/v4/projects/1/issues/23/notes') ?? []).filter((n) => n.body.includes('doom-rlvr:trigger-refused'));

  it('a Developer starts a task, looked up by the user id of the hook', async () => {
    app = await startTestApp();
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledBy(developer)));
    await settled(app);
    expect(await tasks()).toHaveLength(1);
    expect(gitlab.made('GET', /members\/all\/31$/)).toHaveLength(1);
    expect(gitlab.made('GET', /^\/api\/v4\/users$/)).toEqual([]);
  });

  it('a Reporter and a project bot start nothing; the issue is told once', async () => {
    app = await startTestApp();
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledBy(reporter)));
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledBy(projectBot)));
    await settled(app);

    expect(await tasks()).toEqual([]);
    const refused = (await refusals()).map((r) => [r.actor, JSON.parse(r.data).reason]).sort();
    // One hook adds `doom` and `bug`: two labeled events, each decided.
    expect(refused).toEqual([
      ['project_1_bot_5e1f0c0d8e2a', 'bot'],
      ['project_1_bot_5e1f0c0d8e2a', 'bot'],
      ['rita', 'permission'],
      ['rita', 'permission'],
    ]);
    // The bot's Maintainer role does not matter: it is not even asked for.
    expect(gitlab.made('GET', /members\/all\/41$/)).toEqual([]);
    expect(notes()).toHaveLength(1);
    expect(notes()[0]!.body).toContain('GitLab: Developer or above');
  });

  it('a bot flagged `bot: true` by GitLab is a bot whatever its name; allowed_bots lets one in', async () => {
    app = await startTestApp({ tweak: (l) => (l.config.security.allowed_bots = ['release-robot']) });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledBy({ id: 51, username: 'helper', bot: true })));
    await settled(app);
    expect(await tasks()).toEqual([]);

    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledBy({ id: 52, username: 'release-robot', bot: true })));
    await settled(app);
    expect(await tasks()).toHaveLength(1);
  });
});
