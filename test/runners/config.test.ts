import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { permissionsConfig, runnerConfig } from '../../src/runners/config.js';

const errorOf = (schema: z.ZodType, value: unknown): string => {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected a parse error');
  return z.prettifyError(r.error);
};

describe('runnerConfig', () => {
  it('defaults claude-code max_turns to 30', () => {
    expect(runnerConfig.parse({ kind: 'claude-code' })).toEqual({ kind: 'claude-code', max_turns: 30 });
    expect(runnerConfig.parse({ kind: 'claude-code', model: 'sonnet', max_turns: 5, binary: '/opt/claude' })).toMatchObject({
      model: 'sonnet',
      max_turns: 5,
    });
  });

  it('names the field in its messages', () => {
    expect(errorOf(runnerConfig, { kind: 'claude-code', max_turns: 0 })).toMatch(/runner\.max_turns must be at least 1/);
    expect(errorOf(runnerConfig, { kind: 'codex' })).toMatch(/runner\.kind must be one of/);
    expect(errorOf(runnerConfig, { kind: 'claude-code', typo: 1 })).toMatch(/typo/);
  });

  it('checks command argv templates', () => {
    expect(
      runnerConfig.parse({ kind: 'command', argv: ['aider', '--message-file', '{prompt_file}'], prompt_via: 'file' }),
    ).toMatchObject({ kind: 'command' });
    expect(errorOf(runnerConfig, { kind: 'command', argv: ['x', '{prompt}'], prompt_via: 'stdin' })).toMatch(
      /unknown placeholder \{prompt\}/,
    );
    expect(errorOf(runnerConfig, { kind: 'command', argv: ['x'], prompt_via: 'file' })).toMatch(/never mentions \{prompt_file\}/);
    expect(errorOf(runnerConfig, { kind: 'command', argv: [], prompt_via: 'stdin' })).toMatch(/must name a program/);
    expect(errorOf(runnerConfig, { kind: 'command', argv: ['x'], prompt_via: 'pipe' })).toMatch(/prompt_via must be/);
  });

  it('wants exactly one of patch and script for scripted', () => {
    expect(runnerConfig.parse({ kind: 'scripted', script: ['true'] })).toMatchObject({ script: ['true'] });
    expect(errorOf(runnerConfig, { kind: 'scripted' })).toMatch(/exactly one of runner\.patch or runner\.script/);
    expect(errorOf(runnerConfig, { kind: 'scripted', patch: 'p', script: ['x'] })).toMatch(/exactly one/);
  });
});

describe('permissionsConfig', () => {
  it('has safe defaults', () => {
    expect(permissionsConfig.parse({})).toEqual({ forbidden_paths: [], sandbox: 'bwrap', network: { allow: [] } });
  });

  it('takes network hosts, and refuses what is not a host', () => {
    expect(permissionsConfig.parse({ network: { allow: ['registry.npmjs.org', '127.0.0.1:4873', '[::1]:8080'] } }).network.allow).toHaveLength(3);
    for (const bad of ['https://registry.npmjs.org', '*.npmjs.org', 'host/path', 'a b', 'host:0']) {
      expect(errorOf(permissionsConfig, { network: { allow: [bad] } })).toMatch(/permissions.network.allow: .* is not a host or host:port/);
    }
  });

  it('accepts the seed permissions', () => {
    expect(
      permissionsConfig.parse({
        allowed_commands: ['git', 'npm', 'python3', 'rg', 'jq', 'npm run'],
        forbidden_paths: ['/etc', '/root', '~/.ssh'],
        sandbox: 'bwrap',
      }),
    ).toMatchObject({ sandbox: 'bwrap' });
  });

  it('rejects shell syntax in command names and bad sandboxes', () => {
    expect(errorOf(permissionsConfig, { allowed_commands: ['git; rm -rf /'] })).toMatch(/not a plain command name/);
    expect(errorOf(permissionsConfig, { sandbox: 'docker' })).toMatch(/sandbox must be 'none' or 'bwrap'/);
    expect(errorOf(permissionsConfig, { forbidden_paths: ['a(b)'] })).toMatch(/parentheses/);
  });
});
