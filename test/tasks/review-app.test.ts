import { describe, expect, it } from 'vitest';
import { mergeRequestTitle, renderMergeRequestBody } from '../../src/tasks/merge-request.js';
import { deploymentMatches, refSlug, reviewAppSection, withReviewApp } from '../../src/tasks/review-app.js';

describe('review apps', () => {
  it("computes GitLab's CI_COMMIT_REF_SLUG", () => {
    expect(refSlug('doom/12-fix-the-greeting')).toBe('doom-12-fix-the-greeting');
    expect(refSlug('Feature/ÜBER_cool..x')).toBe('feature--ber-cool--x');
    expect(refSlug(`doom/${'a'.repeat(80)}`)).toHaveLength(63);
    expect(refSlug('-x-')).toBe('x');
  });

  it('matches a deployment by commit, by ref, or by the review environment name', () => {
    const task = { head_sha: 'abc123', branch: 'doom/3-fix' };
    expect(deploymentMatches(task, { sha: 'abc123', ref: '', environment: 'production' })).toBe(true);
    expect(deploymentMatches(task, { sha: 'other', ref: 'doom/3-fix', environment: 'x' })).toBe(true);
    expect(deploymentMatches(task, { sha: '', ref: '', environment: 'review/doom-3-fix' })).toBe(true);
    expect(deploymentMatches(task, { sha: 'other', ref: 'main', environment: 'review/main' })).toBe(false);
    expect(deploymentMatches({ head_sha: null, branch: null }, { sha: '', ref: '', environment: 'review/doom-3-fix' })).toBe(false);
  });

  it('adds the review app after the Closes line, then replaces it in place, keeping human edits', () => {
    const body = 'marker\nCloses #4\n\n## Summary\nhuman text';
    const once = withReviewApp(body, 'https://a.example.com');
    expect(once).toBe(`marker\nCloses #4\n\n${reviewAppSection('https://a.example.com')}\n\n## Summary\nhuman text`);
    const twice = withReviewApp(`${once}\nmore human text`, 'https://b.example.com');
    expect(twice).toBe(`marker\nCloses #4\n\n${reviewAppSection('https://b.example.com')}\n\n## Summary\nhuman text\nmore human text`);
    expect(withReviewApp('no closes line', 'https://c')).toBe(`no closes line\n\n${reviewAppSection('https://c')}`);
  });
});

describe('merge request text', () => {
  const view = {
    task: { id: 9, title: '  Fix   the\ngreeting ', issue_number: 4, review_app_url: null, duration_ms: 95_000, type: 'bugfix', priority: 'P1' },
    run: { agent_name: 'agent-bugfix-senior', input_tokens: 12_000, output_tokens: 3_400, cache_tokens: 50, cost_usd: 0.12345, turns: 7 },
    agentTier: 'senior',
    summary: 'Fixed the greeting and added a test.',
    changedFiles: Array.from({ length: 32 }, (_, i) => `src/f${i}.ts`),
  };

  it('names the issue it closes, the agent, tokens, cost and duration', () => {
    const body = renderMergeRequestBody(view);
    expect(body.split('\n').slice(0, 2)).toEqual(['<!-- doom-rlvr:mr:9 -->', 'Closes #4']);
    expect(body).toContain('Fixed the greeting and added a test.');
    expect(body).toContain('| Agent | `agent-bugfix-senior` (senior) |');
    expect(body).toContain('| Tokens | 12,000 in, 3,400 out, 50 cache |');
    expect(body).toContain('| Cost | $0.1235 |');
    expect(body).toContain('| Duration | 1.6 min |');
    expect(body).toContain('- `src/f29.ts`');
    expect(body).not.toContain('src/f30.ts');
    expect(body).toContain('- … and 2 more');
    expect(body).not.toContain('Review app');
    expect(renderMergeRequestBody({ ...view, task: { ...view.task, review_app_url: 'https://r.example.com' } })).toContain(
      reviewAppSection('https://r.example.com'),
    );
  });

  it('titles the MR from the task, on one line', () => {
    expect(mergeRequestTitle(view.task)).toBe('Fix the greeting');
    expect(mergeRequestTitle({ title: '   ', type: 'feature' })).toBe('doom feature task');
  });
});
