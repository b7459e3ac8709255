/**
 * Slash commands on GitHub, through the real HTTP server: the published `issue_comment.created`
 * example with a `/doom` body, signed, the REST API answered by nock (FakeGitHub), the store
 * a real SQLite file.
 */
import nock from 'nock';
import { githubExample } from '../helpers/fixtures.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAgent } from '../../src/store/agents.js';
import { postGitHub, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { FakeGitHub } from '../helpers/github-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';

type Payload = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data
const INSTALLATION = 4242;
const REPO = 'Codertocat/Hello-World';

const example = (action: string): Payload => {
  const of = (e: Payload) => e.action === action;
  try {
    return githubExample('issue_comment', (e) => of(e) && Boolean(e.installation));
  } catch {
    return githubExample('issue_comment', of);
  }
};

/** The published `issue_comment` example, with `body`, by `user` (the sender too). */
function comment(body: string, user: Payload = {}, action = 'created', id = 492700400): Payload {
  const p = example(action);
  p.comment = { ...p.comment, id, body, user: { ...p.comment.user, ...user } };
  p.sender = { ...p.sender, ...user };
  p.installation = { id: INSTALLATION };
  return p;
}

const maintainer = { login: 'maintainer', id: 9, type: 'User' };
const reader = { login: 'reader', id: 5, type: 'User' };
const bot = { login: 'some-app[bot]', id: 7, type: 'Bot' };

describe('slash commands on GitHub', () => {
  let app: TestApp;
  let github: FakeGitHub;
  let reactions: { comment: number; content: string }[];

  onlyLocalNetwork();
  beforeEach(async () => {
    github = new FakeGitHub(REPO, INSTALLATION).install();
    github.permissions.set('maintainer', 'maintain').set('reader', 'read');
    reactions = [];
    // GitHub answers 201 for a new reaction and 200 with the existing one.
    nock('https://api.github.com')
      .persist()
      .post(/^\/repos\/Codertocat\/Hello-World\/issues\/comments\/\d+\/reactions$/)
      .reply((uri, body) => {
        const commentId = Number(uri.split('/').at(-2));
        const content = (body as { content: string }).content;
        const again = reactions.some((r) => r.comment === commentId && r.content === content);
        if (!again) reactions.push({ comment: commentId, content });
        return [again ? 200 : 201, { id: 1, content, user: github.bot, created_at: '2025-03-01T10:00:00Z' }];
      });
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const replies = () => (github.comments.get(1) ?? []).filter((c) => c.body.includes('doom-rlvr:command:'));
  const send = async (payload: Payload) => {
    const response = await postGitHub(app.url, 'issue_comment', payload);
    expect(response.status).toBeLessThan(300);
    await settled(app);
  };

  it('a writer gets help and status in one reply, acknowledged by a reaction', async () => {
    await send(comment('Thanks!\n/doom help\n> /doom cancel\n/doom status'));
    expect(reactions).toEqual([{ comment: 492700400, content: 'eyes' }]);
    const [reply, ...more] = replies();
    expect(more).toEqual([]);
    expect(reply!.body).toContain('<!-- doom-rlvr:command:492700400 -->');
    expect(reply!.body).toContain('| `/doom promote <agent> [--reason <text>]` | maintain |');
    expect(reply!.body).toContain('| `/doom retry [--tier junior\\|senior\\|principal]` | write |  |');
    // Every command is carried out now, revise included (a review round).
    expect(reply!.body).toContain('| `/doom revise <instructions>` | write |  |');
    expect(reply!.body).not.toContain('not handled yet');
    expect(reply!.body).toContain('No task for this issue.');
    expect(reply!.body.indexOf('/doom help')).toBeLessThan(reply!.body.indexOf('/doom status'));
    expect(reply!.body).not.toContain('/doom cancel`**');
  });

  it('a maintainer suspends an agent once: a redelivery repeats the reply, not the effect', async () => {
    const payload = comment('/doom suspend agent-bugfix-junior --reason pushed a secret', maintainer);
    await send(payload);
    expect((await getAgent(app.store.db, 'agent-bugfix-junior'))?.tier).toBe('suspended');
    await send(payload);
    const suspensions = await app.store.db.selectFrom('audit_log').selectAll().where('event', '=', 'agent.suspended').execute();
    expect(suspensions).toHaveLength(1);
    expect(suspensions[0]).toMatchObject({ actor: 'github:maintainer' });
    const [reply, ...more] = replies();
    expect(more).toEqual([]);
    expect(reply!.body).toContain('Suspended `agent-bugfix-junior`');
    expect(reactions).toHaveLength(1);
  });

  it('a writer is refused promote, naming the role; nothing changes', async () => {
    const before = await getAgent(app.store.db, 'agent-feature-junior');
    await send(comment('/doom promote agent-feature-junior --reason I like it'));
    expect(await getAgent(app.store.db, 'agent-feature-junior')).toEqual(before);
    const [reply] = replies();
    expect(reply!.body).toMatch(/`\/doom promote`\*\* refused: Codertocat has only write access; maintain access is needed\. It is for maintainers/);
    const refused = await app.store.db.selectFrom('audit_log').selectAll().where('event', '=', 'permission.refused').execute();
    expect(JSON.parse(refused[0]!.data)).toMatchObject({ action: 'command', command: 'promote', role: 'maintain' });
  });

  it('a read-only user is refused even help; bad arguments and unknown commands get usage and help', async () => {
    await send(comment('/doom help', reader, 'created', 1001));
    expect(replies()[0]!.body).toContain('refused: reader has only read access; write access is needed');
    await send(comment('/doom leaderboard weekly\n/doom deploy', {}, 'created', 1002));
    const reply = replies().find((c) => c.body.includes('command:1002'))!;
    expect(reply.body).toContain('the type must be one of reward, tasks, success-rate (got "weekly")');
    expect(reply.body).toContain('Usage: `/doom leaderboard [reward|tasks|success-rate]`');
    expect(reply.body).toContain('**`/doom deploy`** is not a command.');
    expect(reply.body).toContain('| `/doom help` | write |');
  });

  it('bots and edited comments are ignored: no reaction, no reply, no lookup', async () => {
    await send(comment('/doom help', bot, 'created', 1003));
    await send(comment('/doom help', {}, 'edited', 1004));
    expect(reactions).toEqual([]);
    expect(replies()).toEqual([]);
    expect(github.made('GET', /collaborators/)).toEqual([]);
  });

  it('revise on an issue without a bot merge request says why, and changes nothing', async () => {
    await send(comment('/doom revise keep the API'));
    expect(replies()[0]!.body).toContain('**`/doom revise`** did nothing: no task for this issue');
    expect(await app.store.db.selectFrom('tasks').selectAll().execute()).toEqual([]);
  });
});
