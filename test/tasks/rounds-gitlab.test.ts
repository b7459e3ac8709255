/**
 * The review loop on GitLab, end to end: an unapproval by a Developer starts a revision round
 * that quotes the merge request's unresolved discussion notes; `/doom revise` in a note on the
 * merge request starts the next one. GitLab's documented hook examples, signed with the
 * webhook token, a real bare repository as the remote, FakeGitLab (nock) as the API.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/load.js';
import { git } from '../../src/workspace/git.js';
import { GITLAB_URL, postGitLab, settled, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';

/** As in rounds-github.test.ts: a round writes its prompt to `revision-<n>.txt`. */
const AGENT = `
const fs = require('fs');
const prompt = fs.readFileSync(process.argv[1], 'utf8');
const round = prompt.match(/^## Revision, round (\\d+)/m);
if (round) fs.writeFileSync('revision-' + round[1] + '.txt', prompt);
else fs.appendFileSync('README.md', 'fixed\\n');
`;

const tweak = (loaded: LoadedConfig) => {
  for (const a of loaded.agents) {
    a.runner = { kind: 'command', argv: [process.execPath, '-e', AGENT, '{prompt_file}'], prompt_via: 'file' };
    a.permissions = { ...a.permissions, sandbox: 'none' };
  }
};

const alice = { id: 7, username: 'alice', name: 'Alice' };

describe('review rounds on GitLab', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-rounds-gl-');
    remote = await createRemote(dir.path);
    gitlab = new FakeGitLab().install();
    gitlab.members.set('alice', { id: 7, username: 'alice', access_level: 30 });
    gitlab.members.set('guest', { id: 8, username: 'guest', access_level: 10 });
    nock(GITLAB_URL).persist().post(/\/merge_requests\/1\/notes\/\d+\/award_emoji$/).reply(201, { id: 1, name: 'eyes', awardable_type: 'Note' });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  const db = () => app!.store.db;
  const task = async () => (await db().selectFrom('tasks').selectAll().executeTakeFirst())!;
  const runs = () => db().selectFrom('assignments').selectAll().orderBy('id').execute();
  const mrNotes = () => (gitlab.notes.get('/api/v4/projects/1/merge_requests/1/notes') ?? []).map((n) => n.body);

  function unapproval(issue: ReturnType<typeof labeledIssue>, user: { id: number; username: string; name: string }) {
    const hook = gitlabFixture('merge-request-hook.json');
    const mr = gitlab.mergeRequests[0]!;
    hook.project = issue.project;
    hook.object_attributes = { ...hook.object_attributes, iid: mr.iid, action: 'unapproval', source_branch: mr.source_branch, target_branch: mr.target_branch, last_commit: { ...hook.object_attributes.last_commit, id: mr.sha } };
    hook.user = { ...hook.user, ...user };
    return hook;
  }

  function reviseNote(issue: ReturnType<typeof labeledIssue>, text: string) {
    const hook = gitlabFixture('note-hook-merge-request.json');
    hook.project = issue.project;
    hook.user = { ...hook.user, ...alice };
    hook.object_attributes = { ...hook.object_attributes, id: 4321, note: text, author_id: alice.id, action: 'create', noteable_type: 'MergeRequest' };
    hook.merge_request = { ...hook.merge_request, iid: 1 };
    return hook;
  }

  async function roundDone(n: number) {
    await waitFor(async () => (await runs()).length === n + 1 && (await runs())[n]!.status === 'completed' && (await task()).status === 'completed', `revision round ${n}`);
    await app!.runs.idle();
    await settled(app!);
  }

  it('an unapproval quotes the unresolved discussions; /doom revise runs the next round on top', async () => {
    app = await startTestApp({ executor: 'local', tweak });
    const issue = labeledIssue(`file://${remote.bare}`);
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(issue));
    const first = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the merge request');
    await app.runs.idle();
    gitlab.mergeRequests[0]!.sha = first.head_sha;
    const branch = first.branch!;

    gitlab.discussions.set(1, [
      { id: 'd1', notes: [{ id: 11, body: 'Use a constant for the greeting.', author: { id: 7, username: 'alice' }, system: false, resolvable: true, resolved: false, position: { new_path: 'README.md', new_line: 3 } }] },
      { id: 'd2', notes: [{ id: 12, body: 'Old point, settled.', author: { id: 7, username: 'alice' }, system: false, resolvable: true, resolved: true }] },
    ]);
    // A Guest's unapproval changes nothing.
    await postGitLab(app.url, 'Merge Request Hook', unapproval(issue, { id: 8, username: 'guest', name: 'Guest' }));
    await settled(app);
    expect(await runs()).toHaveLength(1);

    await postGitLab(app.url, 'Merge Request Hook', unapproval(issue, alice));
    await roundDone(1);
    const one = await git(['--git-dir', remote.bare, 'rev-parse', branch]);
    expect(await git(['--git-dir', remote.bare, 'rev-parse', `${one}^`])).toBe(first.head_sha);
    const prompt1 = await git(['--git-dir', remote.bare, 'show', `${one}:revision-1.txt`]);
    expect(prompt1).toContain("Requested by: @alice's unapproval");
    expect(prompt1).toContain('- @alice on `README.md` line 3: Use a constant for the greeting.');
    expect(prompt1).not.toContain('Old point, settled.');
    expect(mrNotes().some((n) => n.includes('**Revision round 1 of 3**') && n.includes(`follow-up commit ${one.slice(0, 7)}`))).toBe(true);
    // The open merge request was updated, not a second one opened.
    expect(gitlab.made('POST', /merge_requests$/)).toHaveLength(1);

    gitlab.mergeRequests[0]!.sha = one;
    await postGitLab(app.url, 'Note Hook', reviseNote(issue, 'Thanks!\n/doom revise also say hello in French'));
    await roundDone(2);
    const two = await git(['--git-dir', remote.bare, 'rev-parse', branch]);
    expect(await git(['--git-dir', remote.bare, 'rev-parse', `${two}^`])).toBe(one);
    const prompt2 = await git(['--git-dir', remote.bare, 'show', `${two}:revision-2.txt`]);
    expect(prompt2).toContain('Requested by: /doom revise by @alice');
    expect(prompt2).toContain('- @alice: also say hello in French');
    const reply = mrNotes().find((n) => n.includes('doom-rlvr:command:4321'))!;
    expect(reply).toContain('Revision round 2 of 3 started');

    const [attempt, r1, r2] = await runs();
    expect([r1, r2].map((r) => [r!.round_kind, r!.round_of, r!.round, r!.agent_name])).toEqual([
      ['revision', attempt!.id, 1, attempt!.agent_name],
      ['revision', attempt!.id, 2, attempt!.agent_name],
    ]);
    // The same note delivered again repeats its reply and starts nothing.
    await postGitLab(app.url, 'Note Hook', reviseNote(issue, 'Thanks!\n/doom revise also say hello in French'));
    await settled(app);
    expect(await runs()).toHaveLength(3);

    // A diff note opens a thread: the third round quotes every unresolved thread.
    gitlab.mergeRequests[0]!.sha = two;
    gitlab.discussions.get(1)!.push({ id: 'd3', notes: [{ id: 13, body: 'And a newline at the end.', author: { id: 7, username: 'alice' }, system: false, resolvable: true, resolved: false, position: { new_path: 'README.md', new_line: 4 } }] });
    const diffNote = (id: number) => {
      const hook = reviseNote(issue, 'And a newline at the end.');
      hook.object_attributes = { ...hook.object_attributes, id, type: 'DiffNote' };
      return hook;
    };
    await postGitLab(app.url, 'Note Hook', diffNote(4400));
    await roundDone(3);
    const three = await git(['--git-dir', remote.bare, 'rev-parse', branch]);
    const prompt3 = await git(['--git-dir', remote.bare, 'show', `${three}:revision-3.txt`]);
    expect(prompt3).toContain("Requested by: @alice's review comments");
    expect(prompt3).toContain('- @alice on `README.md` line 4: And a newline at the end.');
    expect(prompt3).toContain('- @alice on `README.md` line 3: Use a constant for the greeting.');

    // Past `[review] max_rounds` (3): the next thread starts nothing, and the MR is told once.
    gitlab.mergeRequests[0]!.sha = three;
    await postGitLab(app.url, 'Note Hook', diffNote(4401));
    await postGitLab(app.url, 'Note Hook', diffNote(4402));
    await settled(app);
    expect(await runs()).toHaveLength(4);
    expect(mrNotes().filter((n) => n.includes('This merge request has had 3 revision round(s)'))).toHaveLength(1);
  });
});
