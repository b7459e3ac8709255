import { describe, expect, it } from 'vitest';
import { agentFileSchema } from '../src/agents/schema.js';
import { botPlaces, unsandboxedAgents } from '../src/app.js';
import { loadAgents } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';

const agent = (name: string, permissions?: unknown) =>
  agentFileSchema.parse({
    agent: { name, tier: 'junior', specializations: ['bugfix'], context: { system_prompt: 'x' }, ...(permissions ? { permissions } : {}) },
  }).agent;

describe('sandbox at start-up', () => {
  it('names every agent whose file turns the sandbox off, and only those', () => {
    expect(unsandboxedAgents([agent('a'), agent('b', { sandbox: 'none' }), agent('c', { sandbox: 'bwrap' })])).toEqual(['b']);
  });

  it('ships every agent sandboxed', () => {
    expect(unsandboxedAgents(loadAgents('config/agents'))).toEqual([]);
  });

  it("hides the store's directory, the config and the mirrors", () => {
    const config = configSchema.parse({ executor: { mirror_dir: '/data/mirrors' } });
    const loaded = { configPath: '/etc/doom/doom-rlvr.toml', agentsDir: '/etc/doom/agents', config };
    expect(botPlaces('/data/db/doom.db', loaded)).toEqual(['/data/db', '/etc/doom', '/etc/doom/agents', '/data/mirrors']);
    expect(botPlaces('postgres://u@h/db', loaded)).toEqual(['/etc/doom', '/etc/doom/agents', '/data/mirrors']);
  });
});
