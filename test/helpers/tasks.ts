/** A task row for tests that need one in the store. */
import type { NewTask } from '../../src/store/schema.js';

export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  const now = new Date().toISOString();
  return {
    forge: 'github',
    installation_id: 1,
    repo_id: 186853002,
    repo: 'Codertocat/Hello-World',
    repo_url: 'https://github.com/Codertocat/Hello-World',
    clone_url: 'https://github.com/Codertocat/Hello-World.git',
    default_branch: 'main',
    issue_number: 1,
    issue_url: 'https://github.com/Codertocat/Hello-World/issues/1',
    title: 'Spelling error in the README file',
    description: 'It looks like you accidently spelled commit with two t\'s.',
    type: 'bugfix',
    priority: 'P2',
    tags: '[]',
    max_tokens: 1000,
    timeout_ms: 60000,
    forced_agent: null,
    status: 'pending',
    assigned_agent: null,
    pending_reason: null,
    comment_id: null,
    comment_hash: null,
    pr_url: null,
    pr_number: null,
    error_message: null,
    tokens_used: 0,
    cost_usd: 0,
    duration_ms: 0,
    escalations: 0,
    created_at: now,
    updated_at: now,
    completed_at: null,
    ...overrides,
  };
}
