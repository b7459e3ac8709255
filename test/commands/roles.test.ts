import { describe, expect, it } from 'vitest';
import { roleFor } from '../../src/commands/roles.js';
import { COMMAND_NAMES } from '../../src/commands/parse.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';

describe('[commands.roles]', () => {
  it('defaults: write for task commands, maintain for promote, suspend and reinstate', () => {
    const config = parseConfigText('', 'c.toml');
    const maintain = COMMAND_NAMES.filter((name) => roleFor(config, name) === 'maintain');
    expect(maintain).toEqual(['promote', 'suspend', 'reinstate']);
    expect(roleFor(config, 'retry')).toBe('write');
  });

  it('a command can be raised to maintain', () => {
    const config = parseConfigText('[commands.roles]\ncancel = "maintain"\n', 'c.toml');
    expect(roleFor(config, 'cancel')).toBe('maintain');
    expect(roleFor(config, 'status')).toBe('write');
  });

  it('an unknown command or role is named', () => {
    expect(() => parseConfigText('[commands.roles]\ndeploy = "write"\n', 'c.toml')).toThrow(ConfigError);
    expect(() => parseConfigText('[commands.roles]\ndeploy = "write"\n', 'c.toml')).toThrow(/commands\.roles: Unrecognized key: "deploy"/);
    expect(() => parseConfigText('[commands.roles]\nhelp = "anyone"\n', 'c.toml')).toThrow(/commands\.roles\.help/);
  });
});
