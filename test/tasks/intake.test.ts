import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { IssueInfo } from '../../src/forges/event.js';
import { extractTaskBlock, taskSpecFromIssue, type IntakeResult, type TaskSpec } from '../../src/tasks/intake.js';
import { shippedConfigPath } from '../tiers/fixtures.js';

const config = loadConfig(shippedConfigPath).config;

function issue(over: Partial<IssueInfo> = {}): IssueInfo {
  return {
    number: 7,
    title: 'Login fails with a + in the email',
    body: 'Steps: sign up as a+b@example.com, log in.',
    labels: ['doom'],
    url: 'https://github.com/acme/widgets/issues/7',
    state: 'open',
    author: { id: 1, login: 'alice', isBot: false },
    ...over,
  };
}

function ok(r: IntakeResult): TaskSpec {
  if (!r.ok) throw new Error(`expected a spec, got: ${r.error}`);
  return r.spec;
}
function err(r: IntakeResult): string {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.spec)}`);
  return r.error;
}

const seedBlock = [
  '```yaml',
  'task:',
  '  id: bug-123',
  '  type: security',
  '  tags: [auth, backend]',
  '  priority: P0',
  '  description: Tokens are compared with ===.',
  '  constraints:',
  '    max_tokens: 50000',
  '    timeout_ms: 600000',
  '```',
].join('\n');

describe('labels', () => {
  it('uses the config defaults with only the trigger label', () => {
    expect(ok(taskSpecFromIssue(issue(), config))).toEqual({
      type: 'feature',
      priority: 'P2',
      tags: [],
      title: 'Login fails with a + in the email',
      description: 'Login fails with a + in the email\n\nSteps: sign up as a+b@example.com, log in.',
      maxTokens: 200_000,
      maxUsd: null,
      timeoutMs: 300_000,
      forcedAgent: null,
    });
  });

  it.each([
    ['bug', 'bugfix'],
    ['bugfix', 'bugfix'],
    ['enhancement', 'feature'],
    ['feature', 'feature'],
    ['refactor', 'refactor'],
    ['security', 'security'],
  ] as const)('label %s → type %s', (label, type) => {
    expect(ok(taskSpecFromIssue(issue({ labels: ['doom', label] }), config)).type).toBe(type);
  });

  it.each(['P0', 'P1', 'P2'] as const)('label %s → priority %s', (p) => {
    expect(ok(taskSpecFromIssue(issue({ labels: ['doom', p] }), config)).priority).toBe(p);
  });

  it('keeps other labels as tags, without the special, type, priority and agent labels', () => {
    const spec = ok(
      taskSpecFromIssue(
        issue({ labels: ['doom', 'bug', 'frontend', 'P1', 'doom:assigned', 'doom:bot-authored', 'agent:agent-principal', 'good first issue'] }),
        config,
      ),
    );
    expect(spec.tags).toEqual(['frontend', 'good first issue']);
    expect(spec.type).toBe('bugfix');
    expect(spec.priority).toBe('P1');
  });

  it('forces an agent with agent:<name>', () => {
    expect(ok(taskSpecFromIssue(issue({ labels: ['doom', 'agent:agent-security-senior'] }), config)).forcedAgent).toBe('agent-security-senior');
  });

  it('refuses two forced agents', () => {
    expect(err(taskSpecFromIssue(issue({ labels: ['doom', 'agent:a', 'agent:b'] }), config))).toBe('more than one forced agent: a, b');
  });

  it('refuses two type labels that disagree', () => {
    expect(err(taskSpecFromIssue(issue({ labels: ['doom', 'bug', 'enhancement'] }), config))).toBe('conflicting type labels: bugfix, feature');
  });

  it('accepts two type labels that mean the same type', () => {
    expect(ok(taskSpecFromIssue(issue({ labels: ['doom', 'bug', 'bugfix'] }), config)).type).toBe('bugfix');
  });

  it('takes the most urgent of several priority labels', () => {
    expect(ok(taskSpecFromIssue(issue({ labels: ['doom', 'P2', 'P0', 'P1'] }), config)).priority).toBe('P0');
    expect(ok(taskSpecFromIssue(issue({ labels: ['P2', 'doom', 'P1'] }), config)).priority).toBe('P1');
  });

  it('follows the label maps and defaults of the config', () => {
    const custom = structuredClone(config);
    custom.labels.types = { 'kind/bug': 'bugfix' };
    custom.labels.priorities = { urgent: 'P0' };
    custom.labels.default_type = 'refactor';
    custom.labels.default_priority = 'P1';
    custom.labels.force_agent_prefix = 'use:';
    const spec = ok(taskSpecFromIssue(issue({ labels: ['doom', 'kind/bug', 'urgent', 'bug', 'use:agent-principal'] }), custom));
    expect(spec).toMatchObject({ type: 'bugfix', priority: 'P0', tags: ['bug'], forcedAgent: 'agent-principal' });
    expect(ok(taskSpecFromIssue(issue(), custom))).toMatchObject({ type: 'refactor', priority: 'P1' });
  });
});

describe('the task block', () => {
  it('takes type, priority, tags, description and constraints from a seed-shaped block', () => {
    const body = `Please look at this.\n\n${seedBlock}\n\nThanks!`;
    const spec = ok(taskSpecFromIssue(issue({ body, labels: ['doom', 'frontend'] }), config));
    expect(spec).toEqual({
      type: 'security',
      priority: 'P0',
      tags: ['frontend', 'auth', 'backend'],
      title: 'Login fails with a + in the email',
      description: 'Login fails with a + in the email\n\nTokens are compared with ===.',
      maxTokens: 50_000,
      maxUsd: null,
      timeoutMs: 600_000,
      forcedAgent: null,
    });
  });

  it('lets labels beat the block for type and priority', () => {
    const spec = ok(taskSpecFromIssue(issue({ body: seedBlock, labels: ['doom', 'bug', 'P2'] }), config));
    expect(spec.type).toBe('bugfix');
    expect(spec.priority).toBe('P2');
    expect(spec.maxTokens).toBe(50_000);
  });

  it('keeps the rest of the body as the description when the block has none, without the block', () => {
    const body = ['Intro line.', '', '```yml', 'task:', '  constraints:', '    max_tokens: 1234', '```', '', 'Outro line.'].join('\n');
    const spec = ok(taskSpecFromIssue(issue({ body }), config));
    expect(spec.description).toBe('Login fails with a + in the email\n\nIntro line.\n\n\n\nOutro line.');
    expect(spec.description).not.toContain('max_tokens');
    expect(spec.maxTokens).toBe(1234);
    expect(spec.timeoutMs).toBe(300_000);
    // No dollar budget in the block or the config: runs are limited by tokens only.
    expect(spec.maxUsd).toBeNull();
  });

  it('reads a dollar budget from the block, else [coordinator] max_usd_default', () => {
    const body = ['```yaml', 'task:', '  constraints:', '    max_usd: 2.5', '```'].join('\n');
    expect(ok(taskSpecFromIssue(issue({ body }), config)).maxUsd).toBe(2.5);
    const withDefault = { ...config, coordinator: { ...config.coordinator, max_usd_default: 1 } };
    expect(ok(taskSpecFromIssue(issue({ body: 'No block.' }), withDefault)).maxUsd).toBe(1);
  });

  it('ignores other yaml blocks and keeps them in the description', () => {
    const other = ['```yaml', 'services:', '  web: {image: nginx}', '```'].join('\n');
    const spec = ok(taskSpecFromIssue(issue({ body: `${other}\n\n${seedBlock}` }), config));
    expect(spec.type).toBe('security');
    const plain = ok(taskSpecFromIssue(issue({ body: other }), config));
    expect(plain.type).toBe('feature');
    expect(plain.description).toContain('services:');
  });

  it('reports invalid YAML', () => {
    const body = ['```yaml', 'task:', '  type: [bugfix', '```'].join('\n');
    expect(err(taskSpecFromIssue(issue({ body }), config))).toMatch(/^the task block is not valid YAML: .+/);
  });

  it.each([
    ['  type: chore', 'task.type'],
    ['  priority: P9', 'task.priority'],
    ['  tags: frontend', 'task.tags'],
    ['  constraints:\n    max_tokens: -5', 'task.constraints.max_tokens'],
    ['  constraints:\n    timeout_ms: 1.5', 'task.constraints.timeout_ms'],
    ['  constraints:\n    max_usd: 0', 'task.constraints.max_usd'],
    ['  constraints:\n    timeout_ms: 999999999', 'task.constraints.timeout_ms'],
  ])('names the invalid field: %s', (line, field) => {
    const body = ['```yaml', 'task:', line, '```'].join('\n');
    expect(err(taskSpecFromIssue(issue({ body }), config))).toMatch(new RegExp(`^the task block is invalid: ${field.replace(/\./g, '\\.')}: `));
  });

  it('rejects unknown keys in the block', () => {
    const body = ['```yaml', 'task:', '  budget: 5', '```'].join('\n');
    const message = err(taskSpecFromIssue(issue({ body }), config));
    expect(message).toMatch(/^the task block is invalid: task: /);
    expect(message).toContain('budget');
    const nested = ['```yaml', 'task:', '  constraints:', '    max_cost: 5', '```'].join('\n');
    expect(err(taskSpecFromIssue(issue({ body: nested }), config))).toMatch(/task\.constraints: .*max_cost/);
  });

  it('rejects a task key that is not a mapping', () => {
    const body = ['```yaml', 'task: fix it', '```'].join('\n');
    expect(err(taskSpecFromIssue(issue({ body }), config))).toMatch(/^the task block is invalid: task: /);
  });

  it('is checked even when labels would decide everything', () => {
    const body = ['```yaml', 'task:', '  type: chore', '```'].join('\n');
    expect(err(taskSpecFromIssue(issue({ body, labels: ['doom', 'bug', 'P0'] }), config))).toMatch(/task\.type/);
  });
});

describe('extractTaskBlock', () => {
  it('returns the first block with a top-level task key and the body without it', () => {
    const { block, rest } = extractTaskBlock(`before\n${seedBlock}\nafter`);
    expect(block).toContain('type: security');
    expect(block!.startsWith('task:')).toBe(true);
    expect(rest).toBe('before\n\nafter');
  });

  it('returns null and the trimmed body without a task block', () => {
    expect(extractTaskBlock('  just text\n```js\ntask: 1\n```\n')).toEqual({ block: null, rest: 'just text\n```js\ntask: 1\n```' });
  });
});
