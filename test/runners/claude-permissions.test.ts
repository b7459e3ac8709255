import { describe, expect, it } from 'vitest';
import { claudePermissionRules } from '../../src/runners/claude-permissions.js';

const ctx = { workdir: '/tmp/ws/worktree', homes: ['/root', '/tmp/ws/home'] };

describe('claudePermissionRules', () => {
  it('maps the seed template tools, scoping edits to the worktree', () => {
    const r = claudePermissionRules(['Read', 'Edit', 'Bash', 'Grep', 'WebSearch'], { forbidden_paths: [] }, ctx);
    expect(r.tools.sort()).toEqual(['Bash', 'Edit', 'Grep', 'Read', 'WebSearch', 'Write']);
    expect(r.allow).toEqual(['Read', 'Edit(//tmp/ws/worktree/**)', 'Bash', 'Grep', 'WebSearch']);
    expect(r.deny).toEqual([]);
  });

  it('limits Bash to allowed_commands', () => {
    const r = claudePermissionRules(['Bash', 'Bash(npm test)', 'Bash(curl *)'], { allowed_commands: ['git', 'npm'], forbidden_paths: [] }, ctx);
    expect(r.tools).toEqual(['Bash']);
    expect(r.allow).toEqual(['Bash(git)', 'Bash(git *)', 'Bash(npm)', 'Bash(npm *)', 'Bash(npm test)']);
  });

  it('drops Bash entirely for an empty allowed_commands', () => {
    const r = claudePermissionRules(['Read', 'Bash'], { allowed_commands: [], forbidden_paths: [] }, ctx);
    expect(r.tools).toEqual(['Read']);
    expect(r.allow).toEqual(['Read']);
  });

  it('denies reads and edits of forbidden paths, absolute, home and relative', () => {
    const r = claudePermissionRules(['Read'], { forbidden_paths: ['/etc', '~/.ssh/', '.env'] }, ctx);
    expect(r.deny).toEqual([
      'Read(//etc)',
      'Read(//etc/**)',
      'Edit(//etc)',
      'Edit(//etc/**)',
      'Read(//root/.ssh)',
      'Read(//root/.ssh/**)',
      'Edit(//root/.ssh)',
      'Edit(//root/.ssh/**)',
      'Read(//tmp/ws/home/.ssh)',
      'Read(//tmp/ws/home/.ssh/**)',
      'Edit(//tmp/ws/home/.ssh)',
      'Edit(//tmp/ws/home/.ssh/**)',
      'Read(//tmp/ws/worktree/.env)',
      'Read(//tmp/ws/worktree/.env/**)',
      'Edit(//tmp/ws/worktree/.env)',
      'Edit(//tmp/ws/worktree/.env/**)',
    ]);
  });
});
