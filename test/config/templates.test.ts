/** The files a platform team installs from: the GitHub App manifest and the review-app job. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { normalizeGitHub } from '../../src/forges/github/normalize.js';
import { refSlug } from '../../src/tasks/review-app.js';
import { repoRoot } from '../helpers/app.js';

const read = (path: string) => parse(readFileSync(join(repoRoot, path), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- YAML

describe('app.yml', () => {
  const manifest = read('app.yml');

  it('subscribes to every event the bot handles, and to nothing it ignores', () => {
    const handled: Record<string, string> = {
      issues: 'labeled',
      issue_comment: 'created',
      pull_request: 'opened',
      pull_request_review: 'submitted',
      pull_request_review_comment: 'created',
      check_suite: 'completed',
      workflow_run: 'completed',
      deployment_status: 'created',
      status: 'success',
    };
    expect([...manifest.default_events].sort()).toEqual(Object.keys(handled).sort());
    // The normalizer handles each of them: an ignored event gives [] for any payload, a
    // handled one rejects a payload with nothing in it.
    for (const [event, action] of Object.entries(handled)) expect(() => normalizeGitHub(event, { action }), event).toThrow();
  });

  it('asks for write access only where the bot writes', () => {
    expect(manifest.default_permissions).toEqual({
      metadata: 'read',
      issues: 'write',
      pull_requests: 'write',
      contents: 'write',
      checks: 'read',
      actions: 'read',
      statuses: 'read',
      deployments: 'read',
    });
  });
});

describe('config/templates/review-app.gitlab-ci.yml', () => {
  const ci = read('config/templates/review-app.gitlab-ci.yml');

  it('deploys each MR branch to review/$CI_COMMIT_REF_SLUG and stops it when the MR closes', () => {
    expect(ci.review_app.environment).toMatchObject({ name: 'review/$CI_COMMIT_REF_SLUG', on_stop: 'stop_review_app' });
    expect(ci.stop_review_app.environment).toEqual({ name: 'review/$CI_COMMIT_REF_SLUG', action: 'stop' });
    expect(ci.stop_review_app.variables.GIT_STRATEGY).toBe('none');
    expect(ci.review_app.rules.some((r: { if: string }) => r.if.includes('merge_request_event'))).toBe(true);
  });

  it('names environments the way the bot matches deployments to its branches', () => {
    // GitLab fills $CI_COMMIT_REF_SLUG; the bot computes the same slug from its branch.
    expect(refSlug('doom/42-fix-the-greeting')).toBe('doom-42-fix-the-greeting');
  });
});
