import { describe, expect, it } from 'vitest';
import { ClaudeCodeRunner } from '../../src/runners/claude-code.js';
import { CommandRunner } from '../../src/runners/command.js';
import { createRunner, permissionsConfig, runnerConfig } from '../../src/runners/index.js';
import { ScriptedRunner } from '../../src/runners/scripted.js';

describe('createRunner', () => {
  it('builds the runner an agent file names', () => {
    const perms = permissionsConfig.parse({ allowed_commands: ['git'] });
    expect(createRunner(runnerConfig.parse({ kind: 'claude-code' }), perms)).toBeInstanceOf(ClaudeCodeRunner);
    expect(createRunner(runnerConfig.parse({ kind: 'command', argv: ['codex', 'exec', '-'], prompt_via: 'stdin' }))).toBeInstanceOf(
      CommandRunner,
    );
    const scripted = createRunner(runnerConfig.parse({ kind: 'scripted', script: ['true'] }));
    expect(scripted).toBeInstanceOf(ScriptedRunner);
    expect(scripted.kind).toBe('scripted');
  });
});
