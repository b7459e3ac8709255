/** GitLab issue payloads for run tests, derived from the example in GitLab's docs, and `madeLater` for either forge. */
import { gitlabFixture } from './fixtures.js';

const hookFixture = gitlabFixture('issue-hook.json');

/** GitLab's issue example, labeled `doom` + `bug`, its project cloned from `cloneUrl`. */
export function labeledIssue(cloneUrl: string, body = 'The greeting is wrong.') {
  const hook = structuredClone(hookFixture);
  const t = hook.labels[0];
  const before = hook.labels;
  const after = [...before, { ...t, id: 800, title: 'doom' }, { ...t, id: 801, title: 'bug' }];
  hook.labels = after;
  hook.object_attributes = { ...hook.object_attributes, action: 'update', labels: after, description: body, title: 'Fix the greeting' };
  hook.changes = { labels: { previous: before, current: after } };
  hook.project = { ...hook.project, git_http_url: cloneUrl, default_branch: 'main' };
  return hook;
}

/**
 * The same issue change made again later, as a person relabeling does (not a redelivery,
 * which keeps the payload's time): a copy whose `updated_at` is `minutes` later. GitLab's
 * Issue Hook keeps it in `object_attributes`, GitHub's `issues` payload in `issue`.
 */
export function madeLater<P extends object>(payload: P, minutes = 60): P {
  const copy = structuredClone(payload) as { object_attributes?: { updated_at?: string }; issue?: { updated_at?: string } };
  const holder = copy.object_attributes ?? copy.issue;
  if (!holder?.updated_at) throw new Error('madeLater: the payload has no updated_at');
  holder.updated_at = new Date(Date.parse(holder.updated_at) + minutes * 60_000).toISOString();
  return copy as P;
}
