/**
 * Slash commands on GitLab, through the real HTTP server: GitLab's documented Note Hook
 * example on an issue with a `/doom` body, with its token, the REST API answered by nock
 * (FakeGitLab), the store a real SQLite file.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getAgent } from '../../src/store/agents.js';
import { beginCommand } from '../../src/store/commands.js';
import { GITLAB_TOKEN, GITLAB_URL, postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { onlyLocalNetwork } from '../helpers/network.js';

type Payload = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data

/** note-hook-issue.json (note 1241 on issue #17 of project 5, by root) with `note`, by `user`. */
function note(body: string, user: Payload = {}, options: { action?: string; id?: number } = {}): Payload {
  const p = gitlabFixture('note-hook-issue.json');
  p.user = { ...p.user, ...user };
  p.object_attributes = { ...p.object_attributes, note: body, author_id: p.user.id, id: options.id ?? 1241, action: options.action ?? 'create' };
  return p;
}

const maintainer = { id: 2, username: 'maint', name: 'Mai Ntainer' };
const NOTES = '/api/v4/projects/5/issues/17/notes';

describe('slash commands on GitLab', () => {
  let app: TestApp;
  let gitlab: FakeGitLab;
  let awards: { path: string; name: string }[];

  onlyLocalNetwork();
  beforeEach(async () => {
    gitlab = new FakeGitLab().install();
    gitlab.members.set('maint', { id: 2, username: 'maint', access_level: 40 });
    awards = [];
    // GitLab refuses a second award of the same emoji by the same user.
    nock(GITLAB_URL, { reqheaders: { 'private-token': GITLAB_TOKEN } })
      .persist()
      .post(/^\/api\/v4\/projects\/5\/issues\/17\/notes\/\d+\/award_emoji$/)
      .reply((uri, body) => {
        const name = (body as { name: string }).name;
        if (awards.some((a) => a.path === uri && a.name === name)) return [404, { message: '404 Award Emoji Name has already been taken Not Found' }];
        awards.push({ path: uri, name });
        return [201, { id: 77, name, user: { id: 99, username: 'project_5_bot_3f2c' }, awardable_type: 'Note' }];
      });
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  const replies = () => (gitlab.notes.get(NOTES) ?? []).filter((n) => n.body.includes('doom-rlvr:command:'));
  const send = async (payload: Payload) => {
    const response = await postGitLab(app.url, 'Note Hook', payload);
    expect(response.status).toBeLessThan(300);
    await settled(app);
  };

  it('a developer gets the leaderboard, acknowledged with an award emoji', async () => {
    await send(note('/doom leaderboard'));
    expect(awards).toEqual([{ path: `${NOTES}/1241/award_emoji`, name: 'eyes' }]);
    const [reply, ...more] = replies();
    expect(more).toEqual([]);
    expect(reply!.body).toContain('<!-- doom-rlvr:command:1241 -->');
    expect(reply!.body).toContain('Leaderboard by reward:');
    expect(reply!.body).toContain('| 1 | `agent-');
    // The member lookup used the id from the hook, not a search by name.
    expect(gitlab.made('GET', /members\/all\/1$/)).toHaveLength(1);
  });

  it('a maintainer suspends then reinstates, in order; a redelivery changes nothing and edits the one reply', async () => {
    const payload = note('/doom suspend agent-security-junior --reason "leaked a token"\n/doom reinstate agent-security-junior', maintainer);
    await send(payload);
    expect((await getAgent(app.store.db, 'agent-security-junior'))?.tier).toBe('junior');
    const events = async () =>
      (await app.store.db.selectFrom('audit_log').select('event').where('agent_name', '=', 'agent-security-junior').orderBy('id').execute()).map((e) => e.event);
    expect(await events()).toEqual(expect.arrayContaining(['agent.suspended', 'agent.promoted']));
    const first = await events();

    await send(payload);
    expect(await events()).toEqual(first);
    const [reply, ...more] = replies();
    expect(more).toEqual([]);
    expect(reply!.body.indexOf('Suspended `agent-security-junior`')).toBeLessThan(reply!.body.indexOf('Reinstated `agent-security-junior` at **junior**'));
    expect(gitlab.made('PUT', /notes\/\d+$/).length + gitlab.made('POST', /notes$/).length).toBe(1);
    expect(awards).toHaveLength(1);
  });

  it('a developer is refused suspend, naming the role; reinstating an active agent does nothing', async () => {
    await send(note('/doom suspend agent-principal --reason no'));
    expect((await getAgent(app.store.db, 'agent-principal'))?.tier).toBe('principal');
    expect(replies()[0]!.body).toContain('refused: root has only write access; maintain access is needed. It is for maintainers of this repository');
    await send(note('/doom reinstate agent-principal', maintainer, { id: 1300 }));
    expect(replies().find((n) => n.body.includes('command:1300'))!.body).toContain('did nothing: agent "agent-principal" is principal, not suspended');
  });

  it('a command an earlier delivery began and did not finish is not run again', async () => {
    await beginCommand(app.store.db, { forge: 'gitlab', repoId: 5, kind: 'comment', commentId: 1241 }, 1, 'suspend', 'gitlab:maint');
    await send(note('/doom suspend agent-principal --reason flaky', maintainer));
    expect((await getAgent(app.store.db, 'agent-principal'))?.tier).toBe('principal');
    expect(replies()[0]!.body).toContain('**`/doom suspend`** was interrupted on an earlier attempt and is not run twice');
  });

  it('bots and edited notes are ignored', async () => {
    await send(note('/doom help', { id: 60, username: 'project_5_bot_3f2c' }));
    await send(note('/doom help', {}, { action: 'update', id: 1301 }));
    expect(replies()).toEqual([]);
    expect(awards).toEqual([]);
  });

  it('a comment with too many commands runs none of them', async () => {
    await send(note(Array.from({ length: 11 }, () => '/doom suspend agent-principal --reason x').join('\n'), maintainer));
    expect((await getAgent(app.store.db, 'agent-principal'))?.tier).toBe('principal');
    expect(replies()[0]!.body).toContain('no command in this comment ran: the comment has 11 commands; at most 10 run from one comment.');
  });
});
