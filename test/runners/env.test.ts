import { describe, expect, it } from 'vitest';
import { agentEnv, isSecretName } from '../../src/runners/env.js';

const botEnv: NodeJS.ProcessEnv = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/bot',
  LANG: 'C.UTF-8',
  TERM: 'xterm',
  TMPDIR: '/tmp',
  ANTHROPIC_API_KEY: 'sk-ant-agent',
  ANTHROPIC_AUTH_TOKEN: 'agent-gateway-token',
  ANTHROPIC_BASE_URL: 'https://gateway.example',
  ANTHROPIC_MODEL: 'sonnet',
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  // The bot's own credentials and configuration: none of these may reach an agent.
  GITHUB_TOKEN: 'ghs_x',
  GITHUB_APP_ID: '1',
  GITHUB_PRIVATE_KEY: '-----BEGIN',
  GITHUB_WEBHOOK_SECRET: 's',
  GITLAB_TOKEN: 'glpat-x',
  GITLAB_WEBHOOK_SECRET: 's',
  GH_TOKEN: 'x',
  PRIVATE_KEY: '-----BEGIN',
  PRIVATE_KEY_PATH: '/keys/app.pem',
  APP_ID: '123',
  WEBHOOK_SECRET: 'w',
  DATABASE_URL: 'postgres://u:p@db/doom',
  NPM_TOKEN: 'npm_x',
  SLACK_SECRET: 'x',
  AWS_SECRET_ACCESS_KEY: 'x',
  AWS_ACCESS_KEY_ID: 'x',
  DOOM_CONFIG: '/etc/doom.toml',
  ANTHROPIC_ADMIN_SECRET: 'x',
  CLAUDE_CODE_SOMETHING_TOKEN: 'x',
  NODE_OPTIONS: '--require /evil.js',
  LD_PRELOAD: '/evil.so',
  UNDEFINED_ONE: undefined,
};

describe('agentEnv', () => {
  it('keeps only the allow-list and the model credentials', () => {
    expect(agentEnv(botEnv)).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/bot',
      LANG: 'C.UTF-8',
      TERM: 'xterm',
      TMPDIR: '/tmp',
      ANTHROPIC_API_KEY: 'sk-ant-agent',
      ANTHROPIC_AUTH_TOKEN: 'agent-gateway-token',
      ANTHROPIC_BASE_URL: 'https://gateway.example',
      ANTHROPIC_MODEL: 'sonnet',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    });
  });

  it('strips every secret-looking name, whatever the prefix', () => {
    const env = agentEnv(botEnv);
    for (const name of Object.keys(env)) {
      if (name === 'ANTHROPIC_API_KEY' || name === 'ANTHROPIC_AUTH_TOKEN') continue;
      expect(name).not.toMatch(/GITHUB|GITLAB|PRIVATE_KEY|APP_ID|WEBHOOK|DATABASE|TOKEN|SECRET|AWS/);
    }
    expect(Object.values(env)).not.toContain('ghs_x');
    expect(Object.values(env)).not.toContain('postgres://u:p@db/doom');
  });

  it('adds run-specific values, overriding the base', () => {
    const env = agentEnv(botEnv, { HOME: '/tmp/run-1/home', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' });
    expect(env.HOME).toBe('/tmp/run-1/home');
    expect(env.ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:9');
  });

  it('refuses a bot credential passed as extra', () => {
    expect(() => agentEnv(botEnv, { GITHUB_TOKEN: 'x' })).toThrow(/GITHUB_TOKEN/);
    expect(() => agentEnv(botEnv, { DATABASE_URL: 'x' })).toThrow(/DATABASE_URL/);
  });

  it('names secrets', () => {
    expect(isSecretName('GITLAB_TOKEN')).toBe(true);
    expect(isSecretName('MY_SECRET')).toBe(true);
    expect(isSecretName('ANTHROPIC_API_KEY')).toBe(false);
    expect(isSecretName('ANTHROPIC_AUTH_TOKEN')).toBe(false);
    expect(isSecretName('PATH')).toBe(false);
  });
});
