import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { forgeEvent, type ForgeEvent } from '../../../src/forges/event.js';
import { PayloadError } from '../../../src/forges/errors.js';
import { normalizeGitHub } from '../../../src/forges/github/normalize.js';

type Payload = Record<string, unknown>;

/** @octokit/webhooks-examples: `[{ name, actions, examples }]`, real payloads per event. */
const definitions = z
  .array(z.object({ name: z.string(), actions: z.array(z.string()), examples: z.array(z.record(z.string(), z.unknown())) }))
  .parse(JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@octokit/webhooks-examples'), 'utf8')));

const HANDLED: Record<string, string[]> = {
  issues: ['opened', 'closed', 'reopened', 'labeled', 'unlabeled', 'edited'],
  issue_comment: ['created'],
  pull_request: ['opened', 'synchronize', 'reopened', 'closed', 'edited'],
  pull_request_review: ['submitted', 'dismissed'],
  pull_request_review_comment: ['created'],
  check_suite: ['completed'],
  workflow_run: ['completed'],
  deployment_status: ['created'],
  /** A commit status has no action. */
  status: ['(none)'],
};

function examplesOf(name: string, action?: string): Payload[] {
  const definition = definitions.find((d) => d.name === name);
  if (!definition) throw new Error(`no examples for ${name}`);
  return definition.examples.filter((e) => action === undefined || e.action === action);
}

function first(name: string, action?: string): Payload {
  const example = examplesOf(name, action)[0];
  if (!example) throw new Error(`no ${name}.${action} example`);
  return structuredClone(example);
}

function only(events: ForgeEvent[]): ForgeEvent {
  expect(events).toHaveLength(1);
  return forgeEvent.parse(events[0]);
}

function payloadError(run: () => unknown): PayloadError {
  try {
    run();
  } catch (error) {
    if (error instanceof PayloadError) return error;
    throw error;
  }
  throw new Error('expected a PayloadError');
}

describe('normalizeGitHub over @octokit/webhooks-examples', () => {
  it('normalizes every example of every handled event into valid ForgeEvents', () => {
    let produced = 0;
    for (const [name, actions] of Object.entries(HANDLED)) {
      for (const example of examplesOf(name)) {
        const events = normalizeGitHub(name, example);
        for (const event of events) expect(() => forgeEvent.parse(event), `${name}.${String(example.action)}`).not.toThrow();
        const handled = actions.includes(String(example.action ?? '(none)'));
        if (!handled) expect(events, `${name}.${String(example.action)}`).toEqual([]);
        produced += events.length;
      }
    }
    expect(produced).toBeGreaterThan(30);
  });

  it('gives [] for every example of every other event, ping included', () => {
    const others = definitions.filter((d) => !(d.name in HANDLED));
    expect(others.map((d) => d.name)).toContain('ping');
    for (const definition of others) {
      for (const example of definition.examples) expect(normalizeGitHub(definition.name, example), definition.name).toEqual([]);
    }
  });

  it('issues.labeled: number, label, labels, repo, author', () => {
    const event = only(normalizeGitHub('issues', first('issues', 'labeled')));
    expect(event).toMatchObject({
      forge: 'github',
      kind: 'issue',
      action: 'labeled',
      label: 'bug',
      repo: {
        id: 186853002,
        fullName: 'Codertocat/Hello-World',
        defaultBranch: 'master',
        webUrl: 'https://github.com/Codertocat/Hello-World',
        cloneUrl: 'https://github.com/Codertocat/Hello-World.git',
      },
      sender: { login: 'Codertocat', isBot: false },
      issue: { number: 1, labels: ['bug'], state: 'open', author: { id: 21031067, login: 'Codertocat', isBot: false } },
      // The issue's updated_at: what tells a relabel from a redelivered copy.
      changedAt: '2019-05-15T15:20:18.000Z',
    });
  });

  it('carries the installation id when the delivery has one', () => {
    const withInstallation = examplesOf('issues', 'reopened').find((e) => e.installation);
    expect(withInstallation).toBeDefined();
    expect(only(normalizeGitHub('issues', withInstallation))).toMatchObject({ installationId: 1 });
    const payload = first('issues', 'opened');
    delete payload.installation;
    expect(only(normalizeGitHub('issues', payload))).not.toHaveProperty('installationId');
  });

  it('turns a null issue body into an empty string', () => {
    const payload = first('issues', 'opened');
    (payload.issue as Payload).body = null;
    expect(only(normalizeGitHub('issues', payload))).toMatchObject({ issue: { body: '' } });
  });

  it('marks a Bot sender', () => {
    const payload = first('issues', 'labeled');
    payload.sender = { ...(payload.sender as Payload), login: 'doom-rlvr[bot]', type: 'Bot' };
    expect(only(normalizeGitHub('issues', payload))).toMatchObject({ sender: { login: 'doom-rlvr[bot]', isBot: true } });
  });

  it('issue_comment.created targets the issue, or the merge request when issue.pull_request is set', () => {
    const payload = first('issue_comment', 'created');
    expect(only(normalizeGitHub('issue_comment', payload))).toMatchObject({
      kind: 'comment',
      target: 'issue',
      number: 1,
      comment: { id: 492700400, kind: 'comment', url: 'https://github.com/Codertocat/Hello-World/issues/1#issuecomment-492700400' },
    });
    (payload.issue as Payload).pull_request = { url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1' };
    expect(only(normalizeGitHub('issue_comment', payload))).toMatchObject({ target: 'merge_request', number: 1 });
  });

  it('pull_request: synchronize → updated, closed → closed, closed and merged → merged', () => {
    expect(only(normalizeGitHub('pull_request', first('pull_request', 'synchronize')))).toMatchObject({
      kind: 'merge_request',
      action: 'updated',
      mergeRequest: {
        number: 2,
        sourceBranch: 'changes',
        targetBranch: 'master',
        headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        url: 'https://github.com/Codertocat/Hello-World/pull/2',
      },
    });
    const closed = first('pull_request', 'closed');
    expect(only(normalizeGitHub('pull_request', closed))).toMatchObject({ action: 'closed' });
    (closed.pull_request as Payload).merged = true;
    expect(only(normalizeGitHub('pull_request', closed))).toMatchObject({ action: 'merged' });
  });

  it('pull_request_review.submitted maps the review state; dismissed gives []', () => {
    const payload = first('pull_request_review', 'submitted');
    expect(only(normalizeGitHub('pull_request_review', payload))).toMatchObject({
      kind: 'review',
      state: 'commented',
      number: 2,
      headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      reviewer: { login: 'Codertocat' },
    });
    for (const [state, expected] of [['approved', 'approved'], ['APPROVED', 'approved'], ['changes_requested', 'changes_requested']]) {
      (payload.review as Payload).state = state;
      expect(only(normalizeGitHub('pull_request_review', payload))).toMatchObject({ state: expected });
    }
    (payload.review as Payload).state = 'pending';
    expect(normalizeGitHub('pull_request_review', payload)).toEqual([]);
  });

  it('a submitted review with a body is also a comment (kind review), on the pull request', () => {
    const payload = first('pull_request_review', 'submitted');
    (payload.review as Payload).body = 'Looks close.\n/doom feedback +1';
    const [review, comment, ...more] = normalizeGitHub('pull_request_review', payload);
    expect(more).toEqual([]);
    expect(review).toMatchObject({ kind: 'review' });
    expect(forgeEvent.parse(comment)).toMatchObject({
      kind: 'comment',
      target: 'merge_request',
      number: 2,
      comment: { id: 237895671, kind: 'review', body: 'Looks close.\n/doom feedback +1', url: 'https://github.com/Codertocat/Hello-World/pull/2#pullrequestreview-237895671', author: { login: 'Codertocat' } },
    });
    // A body of blanks says nothing; a dismissal's body is not the reviewer's words.
    (payload.review as Payload).body = '  ';
    expect(normalizeGitHub('pull_request_review', payload)).toHaveLength(1);
    const dismissed = first('pull_request_review', 'dismissed');
    (dismissed.review as Payload).body = '/doom help';
    expect(normalizeGitHub('pull_request_review', dismissed)).toHaveLength(1);
  });

  it('pull_request_review_comment.created is a comment (kind review_comment); edits and deletions give []', () => {
    const payload = examplesOf('pull_request_review_comment', 'created').find((e) => e.installation)!;
    expect(only(normalizeGitHub('pull_request_review_comment', payload))).toMatchObject({
      kind: 'comment',
      target: 'merge_request',
      number: 2,
      installationId: 1,
      comment: { id: 284312630, kind: 'review_comment', body: 'Maybe you should use more emoji on this line.', author: { login: 'Codertocat', isBot: false } },
    });
    expect(normalizeGitHub('pull_request_review_comment', first('pull_request_review_comment', 'edited'))).toEqual([]);
    expect(normalizeGitHub('pull_request_review_comment', first('pull_request_review_comment', 'deleted'))).toEqual([]);
  });

  it('pull_request_review.dismissed withdraws a verdict: a review event too', () => {
    const payload = first('pull_request_review', 'dismissed');
    expect(only(normalizeGitHub('pull_request_review', payload))).toMatchObject({ kind: 'review', action: 'dismissed', state: 'dismissed' });
  });

  it('workflow runs and check suites are separate sequences; a check suite is named by its App', () => {
    const run = examplesOf('workflow_run', 'completed').find((e) => (e.workflow_run as Payload).conclusion === 'success')!;
    expect(only(normalizeGitHub('workflow_run', run))).toMatchObject({ origin: { kind: 'workflow_run' } });
    const suite = structuredClone(examplesOf('check_suite', 'completed').find((e) => (e.check_suite as { pull_requests: unknown[] }).pull_requests.length > 0)!);
    expect(only(normalizeGitHub('check_suite', suite))).toMatchObject({ origin: { kind: 'check_suite', app: '29310' } });
    (suite.check_suite as { app: Payload }).app.slug = 'codecov';
    expect(only(normalizeGitHub('check_suite', suite))).toMatchObject({ origin: { kind: 'check_suite', app: 'codecov' } });
  });

  it('status: a commit status is a verdict of its context, matched by commit; pending is none yet', () => {
    const payload = first('status');
    expect(only(normalizeGitHub('status', payload))).toMatchObject({
      kind: 'pipeline',
      status: 'success',
      origin: { kind: 'commit_status', context: 'default' },
      pipelineId: 6805126730,
      sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
      ref: '',
      mergeRequestNumbers: [],
      url: 'https://github.com/Codertocat/Hello-World/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    });
    for (const [state, status] of [['failure', 'failed'], ['error', 'failed']]) {
      expect(only(normalizeGitHub('status', { ...payload, state, target_url: 'https://ci.example.com/build/7' }))).toMatchObject({
        status,
        url: 'https://ci.example.com/build/7',
      });
    }
    expect(normalizeGitHub('status', { ...payload, state: 'pending' })).toEqual([]);
  });

  it('check_suite.completed: status, sha, ref and pull request numbers', () => {
    const payload = examplesOf('check_suite', 'completed').find((e) => (e.check_suite as { pull_requests: unknown[] }).pull_requests.length > 0);
    expect(only(normalizeGitHub('check_suite', payload))).toMatchObject({
      kind: 'pipeline',
      status: 'success',
      pipelineId: 118578147,
      sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      ref: 'changes',
      mergeRequestNumbers: [2],
      coverage: null,
    });
  });

  it('leaves GitHub Actions check suites to their workflow_run deliveries', () => {
    const actions = examplesOf('check_suite', 'completed').find((e) => (e.check_suite as { app?: { slug?: string } }).app?.slug === 'github-actions');
    expect(actions).toBeDefined();
    expect(normalizeGitHub('check_suite', actions)).toEqual([]);
  });

  it('maps every conclusion GitHub documents', () => {
    const expected: Record<string, string> = {
      success: 'success',
      failure: 'failed',
      timed_out: 'failed',
      action_required: 'failed',
      startup_failure: 'failed',
      cancelled: 'canceled',
      skipped: 'skipped',
      neutral: 'neutral',
      stale: 'neutral',
    };
    const payload = examplesOf('workflow_run', 'completed').find((e) => (e.workflow_run as Payload).conclusion === 'success')!;
    for (const [conclusion, status] of Object.entries(expected)) {
      (payload.workflow_run as Payload).conclusion = conclusion;
      expect(only(normalizeGitHub('workflow_run', payload)), conclusion).toMatchObject({ status });
    }
  });

  it('workflow_run.completed: pull request numbers and run URL; no conclusion yet gives []', () => {
    const payload = examplesOf('workflow_run', 'completed').find((e) => (e.workflow_run as { pull_requests: unknown[] }).pull_requests.length > 0);
    expect(only(normalizeGitHub('workflow_run', payload))).toMatchObject({
      status: 'success',
      pipelineId: 289782451,
      mergeRequestNumbers: [2],
      url: 'https://github.com/octo-org/octo-repo/actions/runs/289782451',
    });
    const pending = examplesOf('workflow_run', 'completed').find((e) => (e.workflow_run as Payload).conclusion === null);
    expect(normalizeGitHub('workflow_run', pending)).toEqual([]);
  });

  it('deployment_status: state, environment, URL (environment_url, else target_url), ref and sha', () => {
    const [success, inProgress] = examplesOf('deployment_status');
    expect(only(normalizeGitHub('deployment_status', success))).toMatchObject({
      kind: 'deployment',
      status: 'success',
      environment: 'production',
      environmentUrl: null,
      ref: 'master',
      sha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
    });
    expect(only(normalizeGitHub('deployment_status', inProgress))).toMatchObject({
      status: 'running',
      environment: 'github-pages',
      environmentUrl: 'https://github.com/Codertocat/Hello-World/runs/145988746?check_suite_focus=true',
    });
    const withUrl = structuredClone(success!);
    (withUrl.deployment_status as Payload).environment_url = 'https://hello.example.com';
    (withUrl.deployment_status as Payload).state = 'failure';
    expect(only(normalizeGitHub('deployment_status', withUrl))).toMatchObject({ status: 'failed', environmentUrl: 'https://hello.example.com' });
  });
});

describe('normalizeGitHub on malformed payloads', () => {
  it('names the event and the missing field', () => {
    const payload = first('issues', 'labeled');
    delete (payload.issue as Payload).number;
    const error = payloadError(() => normalizeGitHub('issues', payload));
    expect(error.message).toMatch(/^issues\.labeled: issue\.number: expected number/);
  });

  it('names a field of the wrong type, with array indexes', () => {
    const payload = first('check_suite', 'completed');
    (payload.check_suite as { pull_requests: Payload[] }).pull_requests[0]!.number = '2';
    expect(payloadError(() => normalizeGitHub('check_suite', payload)).message).toContain(
      'check_suite.completed: check_suite.pull_requests[0].number: expected number, received string',
    );

    const comment = first('issue_comment', 'created');
    (comment.comment as Payload).body = 42;
    expect(payloadError(() => normalizeGitHub('issue_comment', comment)).message).toContain('comment.body');
  });

  it('rejects a labeled event without its label, a handled event without action, and a non-object', () => {
    const payload = first('issues', 'labeled');
    delete payload.label;
    expect(payloadError(() => normalizeGitHub('issues', payload)).message).toContain('issues.labeled: label');
    expect(payloadError(() => normalizeGitHub('pull_request', { number: 1 })).message).toContain('action');
    expect(payloadError(() => normalizeGitHub('deployment_status', null)).message).toContain('deployment_status');
  });

  it('does not parse what it ignores', () => {
    expect(normalizeGitHub('issues', { action: 'assigned' })).toEqual([]);
    expect(normalizeGitHub('ping', { zen: 'Design for failure.' })).toEqual([]);
    expect(normalizeGitHub('star', null)).toEqual([]);
    expect(normalizeGitHub('pull_request', { action: 'constructor' })).toEqual([]);
  });
});
