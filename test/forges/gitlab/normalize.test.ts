import { gitlabFixture, gitlabFixtureFiles, gitlabFixtureHeaders } from '../../helpers/fixtures.js';
import { describe, expect, it } from 'vitest';
import { forgeEvent, type ForgeEvent } from '../../../src/forges/event.js';
import { PayloadError } from '../../../src/forges/errors.js';
import { normalizeGitLab } from '../../../src/forges/gitlab/normalize.js';

type Payload = Record<string, unknown>;

/** Real payloads from GitLab's webhook docs, with the X-Gitlab-Event header each is sent with. */
const fixture = (file: string): Payload => gitlabFixture(file);
const HEADERS = gitlabFixtureHeaders();

const HANDLED = new Set([
  'issue-hook.json',
  'note-hook-issue.json',
  'note-hook-merge-request.json',
  'merge-request-hook.json',
  'pipeline-hook.json',
  'deployment-hook.json',
]);

function normalize(file: string, edit?: (p: Payload) => void): ForgeEvent[] {
  const payload = fixture(file);
  edit?.(payload);
  const events = normalizeGitLab(HEADERS.get(file)!, payload);
  return events.map((e) => forgeEvent.parse(e));
}

function attrs(p: Payload): Payload {
  return p.object_attributes as Payload;
}

const label = (title: string, id = 1) => ({ id, title, color: '#ffffff', type: 'ProjectLabel' });

describe('normalizeGitLab over the fixtures from GitLab docs', () => {
  it('knows the header of every fixture', () => {
    const files = gitlabFixtureFiles();
    expect(files.length).toBeGreaterThan(20);
    expect([...HEADERS.keys()].sort()).toEqual(files.sort());
  });

  it('normalizes each handled fixture into valid events and gives [] for every other one', () => {
    for (const [file] of HEADERS) {
      const events = normalize(file);
      if (HANDLED.has(file)) expect(events.length, file).toBeGreaterThan(0);
      else expect(events, file).toEqual([]);
    }
  });

  it('Issue Hook open → opened: iid, labels, repo, sender', () => {
    expect(normalize('issue-hook.json')).toEqual([
      {
        forge: 'gitlab',
        kind: 'issue',
        action: 'opened',
        repo: {
          id: 1,
          fullName: 'gitlabhq/gitlab-test',
          defaultBranch: 'master',
          webUrl: 'http://example.com/gitlabhq/gitlab-test',
          cloneUrl: 'http://example.com/gitlabhq/gitlab-test.git',
        },
        sender: { id: 1, login: 'root', isBot: false },
        issue: {
          number: 23,
          title: 'New API: create/update/delete file',
          body: 'Create new API for manipulations with repository',
          labels: ['API'],
          url: 'http://example.com/diaspora/issues/23',
          state: 'open',
          // The hook names the author by id only; the author (51) is not the sender (1).
          author: { id: 51, login: '', isBot: false },
        },
        changedAt: '2013-12-03T17:15:43.000Z',
      },
    ]);
  });

  it('Issue Hook: an older hook\'s `2013-12-03 17:15:43 UTC` time is read as ISO; an unreadable one is left out', () => {
    expect(normalize('issue-hook.json', (p) => void (attrs(p).updated_at = '2013-12-03 17:15:43 UTC'))).toMatchObject([{ changedAt: '2013-12-03T17:15:43.000Z' }]);
    expect(normalize('issue-hook.json', (p) => void (attrs(p).updated_at = 'yesterday'))[0]).not.toHaveProperty('changedAt');
  });

  it('Issue Hook close / reopen', () => {
    expect(normalize('issue-hook.json', (p) => void (attrs(p).action = 'close'))).toMatchObject([{ action: 'closed' }]);
    expect(normalize('issue-hook.json', (p) => void (attrs(p).action = 'reopen'))).toMatchObject([{ action: 'reopened' }]);
  });

  it('Issue Hook update: one event per label added or removed, from changes.labels', () => {
    // The fixture's own change: API replaced by Platform.
    const swapped = normalize('issue-hook.json', (p) => void (attrs(p).action = 'update'));
    expect(swapped.map((e) => e.kind === 'issue' && [e.action, e.label])).toEqual([
      ['labeled', 'Platform'],
      ['unlabeled', 'API'],
    ]);

    const added = normalize('issue-hook.json', (p) => {
      attrs(p).action = 'update';
      p.labels = [label('API', 206), label('doom', 300), label('tier::senior', 301)];
      p.changes = { labels: { previous: [label('API', 206)], current: p.labels } };
    });
    expect(added).toMatchObject([
      { kind: 'issue', action: 'labeled', label: 'doom', issue: { number: 23, labels: ['API', 'doom', 'tier::senior'] } },
      { kind: 'issue', action: 'labeled', label: 'tier::senior' },
    ]);
  });

  it('Issue Hook update without a label change → edited', () => {
    const events = normalize('issue-hook.json', (p) => {
      attrs(p).action = 'update';
      p.changes = { title: { previous: 'Old', current: 'New API: create/update/delete file' } };
    });
    expect(events).toMatchObject([{ kind: 'issue', action: 'edited' }]);
    expect(events[0]).not.toHaveProperty('label');
  });

  it('Issue Hook for a work item that is not an issue → []', () => {
    expect(normalize('issue-hook.json', (p) => void (p.object_kind = 'work_item'))).toEqual([]);
  });

  it('Note Hook on an issue and on a merge request; commit and snippet notes → []', () => {
    expect(normalize('note-hook-issue.json')).toEqual([
      {
        forge: 'gitlab',
        kind: 'comment',
        action: 'created',
        target: 'issue',
        number: 17,
        repo: expect.objectContaining({ id: 5, fullName: 'gitlab-org/gitlab-test' }),
        sender: { id: 1, login: 'root', isBot: false },
        comment: {
          id: 1241,
          kind: 'comment',
          body: 'Hello world',
          url: 'http://example.com/gitlab-org/gitlab-test/issues/17#note_1241',
          author: { id: 1, login: 'root', isBot: false },
        },
      },
    ]);
    expect(normalize('note-hook-merge-request.json')).toMatchObject([
      { kind: 'comment', target: 'merge_request', number: 1, comment: { id: 1244, body: 'This MR needs work.' } },
    ]);
    expect(normalize('note-hook-commit.json')).toEqual([]);
    expect(normalize('note-hook-snippet.json')).toEqual([]);
  });

  it('Note Hook: a discussion reply and a diff note on a merge request are comments too', () => {
    const reply = normalize('note-hook-merge-request.json', (p) => {
      p.object_attributes = { ...(p.object_attributes as Payload), id: 1250, type: 'DiscussionNote', discussion_id: 'a3f9c1', note: '/doom status', action: 'create' };
    });
    expect(reply).toMatchObject([{ kind: 'comment', target: 'merge_request', number: 1, comment: { id: 1250, kind: 'comment', body: '/doom status' } }]);
    const diffNote = normalize('note-hook-merge-request.json', (p) => {
      p.object_attributes = { ...(p.object_attributes as Payload), id: 1251, type: 'DiffNote', position: { new_path: 'README.md', new_line: 3 }, action: 'create' };
    });
    expect(diffNote).toMatchObject([{ kind: 'comment', comment: { id: 1251, kind: 'comment' } }]);
  });

  it('Note Hook: an edited note is not a new comment', () => {
    expect(normalize('note-hook-issue.json', (p) => void (attrs(p).action = 'update'))).toEqual([]);
  });

  it('Merge Request Hook: the fixture (open) and each other action', () => {
    expect(normalize('merge-request-hook.json')).toMatchObject([
      {
        kind: 'merge_request',
        action: 'opened',
        mergeRequest: {
          number: 1,
          title: 'MS-Viewport',
          body: '',
          url: 'http://example.com/diaspora/merge_requests/1',
          sourceBranch: 'ms-viewport',
          targetBranch: 'master',
          headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
          labels: ['API'],
          author: { id: 51 },
        },
      },
    ]);
    const expected: Record<string, string> = { update: 'updated', merge: 'merged', close: 'closed', reopen: 'reopened' };
    for (const [action, normalized] of Object.entries(expected)) {
      expect(normalize('merge-request-hook.json', (p) => void (attrs(p).action = action)), action).toMatchObject([
        { kind: 'merge_request', action: normalized },
      ]);
    }
    expect(normalize('merge-request-hook.json', (p) => void (attrs(p).action = 'something_new'))).toEqual([]);
  });

  it('Merge Request Hook approvals become review events', () => {
    for (const [action, state] of [['approved', 'approved'], ['approval', 'approved'], ['unapproved', 'unapproved'], ['unapproval', 'unapproved']]) {
      expect(normalize('merge-request-hook.json', (p) => void (attrs(p).action = action)), action).toEqual([
        expect.objectContaining({
          kind: 'review',
          action: 'submitted',
          state,
          number: 1,
          headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
          reviewer: { id: 1, login: 'root', isBot: false },
        }),
      ]);
    }
  });

  it('Merge Request Hook update with a reviewer state change: a review event, then the update', () => {
    const user1 = (p: Payload) => (p.reviewers as Payload[])[0]!;
    const requested = normalize('merge-request-hook.json', (p) => {
      attrs(p).action = 'update';
      p.changes = {
        reviewers: {
          previous: [{ ...user1(p), state: 'unreviewed', re_requested: false }],
          current: [{ ...user1(p), state: 'requested_changes', re_requested: false }],
        },
      };
    });
    expect(requested).toEqual([
      expect.objectContaining({
        kind: 'review',
        action: 'submitted',
        state: 'changes_requested',
        number: 1,
        headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        reviewer: { id: 6, login: 'user1', isBot: false },
      }),
      expect.objectContaining({ kind: 'merge_request', action: 'updated' }),
    ]);

    const reviewers = (previous: Payload[], current: Payload[]) =>
      normalize('merge-request-hook.json', (p) => {
        attrs(p).action = 'update';
        p.changes = { reviewers: { previous, current } };
      }).map((e) => (e.kind === 'review' ? `${e.reviewer.login}:${e.state}` : e.kind));
    const bob = { id: 7, name: 'Bob', username: 'bob' };
    // Reviewed; a reviewer removed while holding a verdict; a reviewer added (no verdict).
    expect(reviewers([{ ...bob, state: 'unreviewed' }], [{ ...bob, state: 'reviewed' }])).toEqual(['bob:commented', 'merge_request']);
    expect(reviewers([{ ...bob, state: 'requested_changes' }], [])).toEqual(['bob:dismissed', 'merge_request']);
    expect(reviewers([], [{ ...bob, state: 'unreviewed' }])).toEqual(['merge_request']);
    // Re-requested (back to unreviewed): the change request no longer stands. Unchanged: nothing.
    expect(reviewers([{ ...bob, state: 'requested_changes' }], [{ ...bob, state: 'unreviewed', re_requested: true }])).toEqual(['bob:dismissed', 'merge_request']);
    expect(reviewers([{ ...bob, state: 'requested_changes' }], [{ ...bob, state: 'requested_changes' }])).toEqual(['merge_request']);
    // Older GitLab: reviewers without states.
    expect(reviewers([], [bob])).toEqual(['merge_request']);
  });

  it('Pipeline Hook: finished status, sha, ref, MR iid, URL, coverage', () => {
    expect(normalize('pipeline-hook.json')).toEqual([
      expect.objectContaining({
        kind: 'pipeline',
        action: 'completed',
        status: 'success',
        pipelineId: 31,
        sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2',
        ref: 'master',
        origin: { kind: 'gitlab_pipeline', source: 'merge_request_event' },
        mergeRequestNumbers: [1],
        url: 'http://example.com/gitlab-org/gitlab-test/-/pipelines/31',
        coverage: null,
      }),
    ]);
    expect(normalize('pipeline-hook.json', (p) => void delete attrs(p).source)).toMatchObject([{ origin: { kind: 'gitlab_pipeline', source: null } }]);
    expect(normalize('pipeline-hook.json', (p) => void (attrs(p).coverage = '87.25'))).toMatchObject([{ coverage: 87.25 }]);
    expect(normalize('pipeline-hook.json', (p) => void (attrs(p).coverage = 91))).toMatchObject([{ coverage: 91 }]);
    expect(normalize('pipeline-hook.json', (p) => void (attrs(p).coverage = null))).toMatchObject([{ coverage: null }]);
    for (const status of ['failed', 'canceled', 'skipped']) {
      expect(normalize('pipeline-hook.json', (p) => void (attrs(p).status = status))).toMatchObject([{ status }]);
    }
    expect(normalize('pipeline-hook.json', (p) => void delete p.merge_request)).toMatchObject([{ mergeRequestNumbers: [] }]);
  });

  it('Pipeline Hook: unfinished pipelines → []', () => {
    for (const status of ['created', 'pending', 'running', 'manual']) {
      expect(normalize('pipeline-hook.json', (p) => void (attrs(p).status = status)), status).toEqual([]);
    }
  });

  it('Deployment Hook: status, environment, external URL, full sha from commit_url', () => {
    expect(normalize('deployment-hook.json')).toEqual([
      {
        forge: 'gitlab',
        kind: 'deployment',
        action: 'status',
        repo: expect.objectContaining({ id: 30, fullName: 'root/test-deployment-webhooks' }),
        sender: { id: 1, login: 'root', isBot: false },
        status: 'success',
        environment: 'staging',
        environmentUrl: 'https://staging.example.com',
        ref: '',
        sha: '279484c09fbe69ededfced8c1bb6e6d24616b468',
      },
    ]);
    expect(
      normalize('deployment-hook.json', (p) => {
        p.status = 'running';
        p.environment_external_url = null;
        delete p.commit_url;
      }),
    ).toMatchObject([
      { status: 'running', environmentUrl: 'http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796', sha: '279484c0' },
    ]);
  });

  it('routes a System Hook by object_kind; an unknown header → []', () => {
    for (const file of ['issue-hook.json', 'merge-request-hook.json', 'pipeline-hook.json']) {
      expect(normalizeGitLab('System Hook', fixture(file))).toEqual(normalize(file));
    }
    expect(normalizeGitLab('System Hook', fixture('push-hook.json'))).toEqual([]);
    expect(normalizeGitLab('Something Hook', fixture('issue-hook.json'))).toEqual([]);
    expect(normalizeGitLab('toString', fixture('issue-hook.json'))).toEqual([]);
    expect(normalize('merge-request-hook.json', (p) => void (attrs(p).action = 'constructor'))).toEqual([]);
  });

  it('recognises GitLab bot users', () => {
    const bots = ['project_5_bot_8c4a9f2e', 'project_5_bot', 'group_9_bot_ab12', 'support-bot', 'doom_bot'];
    for (const username of bots) {
      expect(normalize('issue-hook.json', (p) => void ((p.user as Payload).username = username))[0], username).toMatchObject({
        sender: { login: username, isBot: true },
      });
    }
    expect(normalize('issue-hook.json', (p) => void ((p.user as Payload).bot = true))[0]).toMatchObject({ sender: { isBot: true } });
    expect(normalize('issue-hook.json', (p) => void ((p.user as Payload).username = 'robotnik'))[0]).toMatchObject({ sender: { isBot: false } });
  });

  it('falls back to main for a project whose repository is empty', () => {
    expect(normalize('issue-hook.json', (p) => void ((p.project as Payload).default_branch = null))[0]).toMatchObject({
      repo: { defaultBranch: 'main' },
    });
  });
});

describe('normalizeGitLab on malformed payloads', () => {
  function message(file: string, edit: (p: Payload) => void): string {
    try {
      normalize(file, edit);
    } catch (error) {
      if (error instanceof PayloadError) return error.message;
      throw error;
    }
    throw new Error('expected a PayloadError');
  }

  it('names the hook and the field', () => {
    expect(message('issue-hook.json', (p) => void delete attrs(p).iid)).toMatch(/^Issue Hook: object_attributes\.iid: expected number/);
    expect(message('pipeline-hook.json', (p) => void (attrs(p).sha = 42))).toContain(
      'Pipeline Hook: object_attributes.sha: expected string, received number',
    );
    expect(message('merge-request-hook.json', (p) => void delete p.project)).toContain('Merge Request Hook: project: expected object');
    expect(message('note-hook-issue.json', (p) => void delete p.issue)).toContain('Note Hook: issue');
  });
});
