/**
 * Only `doom serve` and `doom agents sync` write the agent pool: every other command reads the
 * store as the running server left it, whatever config it was started with.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAgents } from '../../src/store/agents.js';
import { freshStore, scratchDir, shippedAgentsDir, shippedConfigPath, type TestStore } from '../tiers/fixtures.js';
import { doom, scrubEnvironment } from './harness.js';

scrubEnvironment();

let store: TestStore;
let otherConfig: string;
beforeEach(async () => {
  store = await freshStore();
  process.env.DATABASE_URL = store.path;
  // Another team's config: the shipped toml, and one agent of its own.
  const dir = scratchDir('doom-other-config-');
  otherConfig = join(dir, 'doom-rlvr.toml');
  copyFileSync(shippedConfigPath, otherConfig);
  mkdirSync(join(dir, 'agents'));
  const one = readFileSync(join(shippedAgentsDir, 'agent-bugfix-junior.yml'), 'utf8').replace(/^ {2}name: .*$/m, '  name: agent-solo');
  writeFileSync(join(dir, 'agents', 'agent-solo.yml'), one);
});
afterEach(async () => {
  await store.dispose();
  rmSync(join(otherConfig, '..'), { recursive: true, force: true });
  delete process.env.DATABASE_URL;
});

const pool = async () => (await listAgents(store.db, { includeInactive: true })).map((a) => `${a.name}:${a.active}:${a.updated_at}`);

describe('the agent pool', () => {
  it('is left alone by read commands started with another config', async () => {
    const before = await pool();
    for (const args of [['agents', 'list'], ['status'], ['leaderboard'], ['logs']]) {
      const run = await doomWith(otherConfig, ...args);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
    expect(await pool()).toEqual(before);
  });

  it('is synced by `doom agents sync`, which says what changed, then that nothing did', async () => {
    const first = await doomWith(otherConfig, 'agents', 'sync');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('added: agent-solo');
    expect(first.stdout).toMatch(/deactivated: agent-[a-z-]+(, agent-[a-z-]+){8}/);
    const active = (await listAgents(store.db)).map((a) => a.name);
    expect(active).toEqual(['agent-solo']);

    const again = await doomWith(otherConfig, 'agents', 'sync', '--format', 'json');
    expect(JSON.parse(again.stdout)).toEqual({ added: [], updated: [], reactivated: [], deactivated: [] });

    const back = await doom('agents', 'sync');
    expect(back.stdout).toMatch(/reactivated: .*agent-bugfix-junior/);
    expect(back.stdout).toContain('deactivated: agent-solo');
  });

  it('reports an edited agent file as updated', async () => {
    const dir = join(otherConfig, '..');
    rmSync(join(dir, 'agents'), { recursive: true });
    mkdirSync(join(dir, 'agents'));
    for (const name of ['agent-bugfix-junior.yml', 'agent-feature-senior.yml']) {
      const text = readFileSync(join(shippedAgentsDir, name), 'utf8');
      writeFileSync(join(dir, 'agents', name), name.includes('junior') ? text.replace(/max_concurrent_tasks: \d+/, 'max_concurrent_tasks: 7') : text);
    }
    const run = await doomWith(otherConfig, 'agents', 'sync');
    expect(run.stdout).toContain('updated: agent-bugfix-junior');
    expect(run.stdout).not.toMatch(/updated: .*agent-feature-senior/);
  });
});

/** `doom --config <path> …` (the harness passes the shipped config first; the last one wins). */
function doomWith(config: string, ...args: string[]) {
  return doom('--config', config, ...args);
}
