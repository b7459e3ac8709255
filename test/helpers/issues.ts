/** GitLab issue payloads for run tests, derived from the example in GitLab's docs. */
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
