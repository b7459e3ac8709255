import { describe, expect, it } from 'vitest';
import type { AgentRow, TaskRow } from '../../src/store/schema.js';
import { hashComment, renderTaskComment, taskMarker } from '../../src/tasks/comment.js';
import { newTask } from '../helpers/tasks.js';

/** A stored task, as the store would return it. */
function task(over: Partial<TaskRow> = {}): TaskRow {
  const row = {
    ...newTask({
      repo_id: 42,
      repo: 'acme/widgets',
      issue_number: 7,
      issue_url: 'https://github.com/acme/widgets/issues/7',
      title: 'Fix login',
      description: 'Fix login',
      priority: 'P1',
      tags: '["auth","backend"]',
      max_tokens: 200_000,
      timeout_ms: 300_000,
      created_at: '2025-08-12T10:00:00.000Z',
      updated_at: '2025-08-12T10:00:00.000Z',
    }),
    id: 12,
  };
  return { ...row, ...over } as TaskRow;
}

const agent: AgentRow = {
  name: 'agent-bugfix-senior',
  tier: 'senior',
  specializations: '["bugfix"]',
  max_concurrent_tasks: 2,
  config: '{}',
  rolling_avg: 3.456,
  total_tasks: 11,
  completed_tasks: 9,
  failed_tasks: 2,
  manual_override: null,
  active: 1,
  created_at: '2025-08-12T10:00:00.000Z',
  updated_at: '2025-08-12T10:00:00.000Z',
  tier_since: null,
  last_assigned_at: null,
};

describe('renderTaskComment', () => {
  it("lists the pipeline's acceptance criteria as text, never as Markdown", () => {
    const body = renderTaskComment({ task: task(), acceptance: ['login works with SSO', 'no ![x](https://evil.example/p.png) image'] });
    expect(body).toContain('**Acceptance criteria**\n\n- login works with SSO\n- no \\!\\[x\\](https://evil.example/p.png) image');
    expect(renderTaskComment({ task: task() })).not.toContain('Acceptance criteria');
  });

  it('starts with the task marker', () => {
    expect(taskMarker(12)).toBe('<!-- doom-rlvr:task:12 -->');
    const body = renderTaskComment({ task: task() });
    expect(body.split('\n')[0]).toBe('<!-- doom-rlvr:task:12 -->');
    expect(body).toContain('### doom-rlvr · task 12');
  });

  it('shows status, type, priority, budget and tags', () => {
    const body = renderTaskComment({ task: task() });
    expect(body).toContain('| Status | **pending** |');
    expect(body).toContain('| Type / priority | bugfix / P1 |');
    expect(body).toContain('| Budget | 200,000 tokens, 300 s |');
    expect(body).toContain('<sub>Tags: auth, backend</sub>');
    expect(body).not.toContain('| Agent |');
    expect(body).not.toContain('Why this agent');
  });

  it('shows why a pending task waits', () => {
    const body = renderTaskComment({ task: task({ pending_reason: 'no principal bugfix agent with free capacity for P0' }) });
    expect(body).toContain('Waiting: no principal bugfix agent with free capacity for P0.');
  });

  it('shows the error of a failed task and no waiting line', () => {
    const body = renderTaskComment({ task: task({ status: 'failed', error_message: 'conflicting type labels: bugfix, feature', pending_reason: 'x' }) });
    expect(body).toContain('| Status | **failed** |');
    expect(body).toContain('Failed: conflicting type labels: bugfix, feature');
    expect(body).not.toContain('Waiting:');
  });

  it('shows the agent and the reasons it was chosen', () => {
    const body = renderTaskComment({
      task: task({ status: 'assigned', assigned_agent: agent.name, pr_url: 'https://github.com/acme/widgets/pull/8' }),
      agent,
      reasons: ['bugfix specialist, tier senior', 'load 0/2'],
    });
    expect(body).toContain('| Agent | `agent-bugfix-senior` — senior, rolling average 3.46 over 11 tasks |');
    expect(body).toContain('| Merge request | https://github.com/acme/widgets/pull/8 |');
    expect(body).toContain('<details><summary>Why this agent</summary>\n\n- bugfix specialist, tier senior\n- load 0/2\n\n</details>');
  });

  it('leaves out reasons without an agent, and an empty tag line', () => {
    const body = renderTaskComment({ task: task({ tags: '[]' }), reasons: ['orphan reason'] });
    expect(body).not.toContain('orphan reason');
    expect(body).not.toContain('Tags:');
  });

  it('renders the same state the same way', () => {
    expect(renderTaskComment({ task: task(), agent, reasons: ['a'] })).toBe(renderTaskComment({ task: task(), agent, reasons: ['a'] }));
  });
});

describe('hashComment', () => {
  const body = renderTaskComment({ task: task() });

  it('is a stable 32-hex-digit hash', () => {
    expect(hashComment(body, [])).toMatch(/^[0-9a-f]{32}$/);
    expect(hashComment(body, ['doom:assigned'])).toBe(hashComment(body, ['doom:assigned']));
  });

  it('changes when the content changes', () => {
    const other = renderTaskComment({ task: task({ status: 'assigned' }) });
    expect(hashComment(other, [])).not.toBe(hashComment(body, []));
    const reason = renderTaskComment({ task: task({ pending_reason: 'busy' }) });
    expect(hashComment(reason, [])).not.toBe(hashComment(body, []));
  });

  it('changes when the labels change', () => {
    expect(hashComment(body, ['doom:assigned'])).not.toBe(hashComment(body, []));
    expect(hashComment(body, ['a', 'b'])).not.toBe(hashComment(body, ['b', 'a']));
  });

  it('keeps body and labels apart', () => {
    expect(hashComment('ab', [])).not.toBe(hashComment('a', ['b']));
  });
});
