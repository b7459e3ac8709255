import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadAgents, loadConfig, parseAgentText, parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const shippedToml = join(repoRoot, 'config/doom-rlvr.toml');

function configError(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('the shipped configuration', () => {
  it('loads, with the seed values', () => {
    const loaded = loadConfig(shippedToml);
    const { config } = loaded;
    expect(loaded.configPath).toBe(shippedToml);
    expect(loaded.agentsDir).toBe(join(repoRoot, 'config/agents'));
    expect(config.coordinator).toEqual({
      port: 8080,
      max_concurrent_agents: 10,
      task_timeout_default_ms: 300_000,
      max_tokens_default: 200_000,
      exploration: 0.5,
    });
    expect(config.evaluator.weights).toEqual({
      test_coverage: 0.3,
      lint_score: 0.2,
      security_scan: 0.2,
      complexity: 0.1,
      ci_status: 0.1,
      review_feedback: 0.1,
    });
    expect(config.tiers).toEqual({
      promotion_threshold: 4,
      demotion_threshold: 2,
      suspension_threshold: 0,
      evaluation_window: 10,
      recompute_cron: '0 3 * * *',
      confidence: 1.645,
      hysteresis: 0.25,
      suspension_min_rewards: 5,
      probation_cooldown_ms: 86_400_000,
    });
    expect(config.routing).toEqual({
      P0: ['principal'],
      P1: ['senior', 'principal'],
      P2: ['junior', 'senior', 'principal'],
      choice: 'ucb',
      failed_run_reward: 0,
      p0_max_wait_ms: 900_000,
      tag_bonus: 0.5,
      head_to_head_weight: 0.5,
      prior_sd: 1.5,
      prior_weight: 2,
      type_prior_weight: 1,
    });
    expect(config.labels.types.bug).toBe('bugfix');
  });

  it('matches the schema defaults, so an empty file behaves like the shipped one', () => {
    expect(loadConfig(shippedToml).config).toEqual(configSchema.parse({}));
    expect(parseConfigText('', 'empty.toml')).toEqual(configSchema.parse({}));
  });

  it('ships 9 agents: one per specialization at junior and senior, plus one principal', () => {
    const { agents } = loadConfig(shippedToml);
    expect(agents).toHaveLength(9);
    const byName = Object.fromEntries(agents.map((a) => [a.name, a]));
    for (const type of ['bugfix', 'feature', 'refactor', 'security'] as const) {
      for (const tier of ['junior', 'senior'] as const) {
        const agent = byName[`agent-${type}-${tier}`];
        expect(agent, `agent-${type}-${tier}`).toBeDefined();
        expect(agent!.tier).toBe(tier);
        expect(agent!.specializations).toEqual([type]);
      }
    }
    const principal = byName['agent-principal']!;
    expect(principal.tier).toBe('principal');
    expect([...principal.specializations].sort()).toEqual(['bugfix', 'feature', 'refactor', 'security']);
    for (const a of agents) {
      expect(a.context.system_prompt).toContain('{{tier}}');
      expect(a.max_concurrent_tasks).toBeGreaterThan(0);
    }
  });
});

describe('config errors name the file, the field and what was expected', () => {
  it('invalid TOML, with the line', () => {
    const message = configError(() => parseConfigText('[coordinator]\nport = 1\nbad line here\n', '/etc/doom.toml'));
    expect(message).toMatch(/^\/etc\/doom\.toml: not valid TOML \(line 3, column \d+\): /);
  });

  it('an unknown key (strict sections)', () => {
    expect(configError(() => parseConfigText('[coordinator]\nbogus = 1\n', 'c.toml'))).toBe('c.toml: coordinator: Unrecognized key: "bogus"');
    expect(configError(() => parseConfigText('[nope]\n', 'c.toml'))).toBe('c.toml: (top level): Unrecognized key: "nope"');
    expect(configError(() => parseConfigText('[evaluator.weights]\ncoverage = 1\n', 'c.toml'))).toContain('"coverage"');
  });

  it('a wrong type', () => {
    expect(configError(() => parseConfigText('[coordinator]\nport = "x"\n', 'c.toml'))).toBe(
      'c.toml: coordinator.port: Invalid input: expected number, received string',
    );
    expect(configError(() => parseConfigText('[coordinator]\nport = 70000\n', 'c.toml'))).toMatch(/^c\.toml: coordinator\.port: Too big/);
    expect(configError(() => parseConfigText('[scoreboard]\ncompact_on_startup = "yes"\n', 'c.toml'))).toMatch(
      /^c\.toml: scoreboard\.compact_on_startup: .*expected boolean/,
    );
  });

  it('weights that do not sum to 1', () => {
    const toml = (coverage: number) =>
      `[evaluator.weights]\ntest_coverage = ${coverage}\nlint_score = 0.2\nsecurity_scan = 0.2\ncomplexity = 0.1\nci_status = 0.1\nreview_feedback = 0.1\n`;
    expect(configError(() => parseConfigText(toml(0.5), 'c.toml'))).toBe('c.toml: evaluator.weights: weights must sum to 1');
    expect(configError(() => parseConfigText(toml(0.2), 'c.toml'))).toBe('c.toml: evaluator.weights: weights must sum to 1');
    expect(parseConfigText(toml(0.3), 'c.toml').evaluator.weights.test_coverage).toBe(0.3);
  });

  it('weights with a missing component', () => {
    const message = configError(() => parseConfigText('[evaluator.weights]\ntest_coverage = 1\n', 'c.toml'));
    expect(message).toContain('c.toml: evaluator.weights.lint_score: Invalid input: expected number, received undefined');
    expect(message.split('\n')).toHaveLength(5);
  });

  it('thresholds out of order', () => {
    expect(configError(() => parseConfigText('[tiers]\npromotion_threshold = 1.0\n', 'c.toml'))).toBe(
      'c.toml: tiers: thresholds must satisfy suspension_threshold <= demotion_threshold <= promotion_threshold',
    );
    expect(configError(() => parseConfigText('[tiers]\nsuspension_threshold = 3.0\n', 'c.toml'))).toContain('c.toml: tiers: thresholds must satisfy');
    expect(configError(() => parseConfigText('[tiers]\nevaluation_window = 0\n', 'c.toml'))).toMatch(/^c\.toml: tiers\.evaluation_window: Too small/);
  });

  it('a bad routing tier', () => {
    expect(configError(() => parseConfigText('[routing]\nP0 = ["boss"]\n', 'c.toml'))).toBe(
      'c.toml: routing.P0.0: Invalid option: expected one of "junior"|"senior"|"principal"',
    );
    // Suspended agents are never routed to.
    expect(configError(() => parseConfigText('[routing]\nP1 = ["senior", "suspended"]\n', 'c.toml'))).toMatch(/^c\.toml: routing\.P1\.1: /);
    expect(configError(() => parseConfigText('[routing]\nP2 = []\n', 'c.toml'))).toBe('c.toml: routing.P2: Too small: expected array to have >=1 items');
    expect(configError(() => parseConfigText('[routing]\nP3 = ["junior"]\n', 'c.toml'))).toBe('c.toml: routing: Unrecognized key: "P3"');
  });

  it('a label mapped to an unknown task type', () => {
    expect(configError(() => parseConfigText('[labels.types]\nchore = "chore"\n', 'c.toml'))).toBe(
      'c.toml: labels.types.chore: Invalid option: expected one of "bugfix"|"feature"|"refactor"|"security"',
    );
  });

  it('a missing config file', () => {
    expect(configError(() => loadConfig('/nonexistent/doom.toml'))).toMatch(/^\/nonexistent\/doom\.toml: cannot read: .*ENOENT/);
  });
});

const prompt = '    system_prompt: |\n      You are a {{tier}} agent.\n';
const agentYaml = (name: string, extra: { tier?: string; specializations?: string; context?: string } = {}) =>
  [
    'agent:',
    `  name: ${name}`,
    `  tier: ${extra.tier ?? 'junior'}`,
    `  specializations: ${extra.specializations ?? '[bugfix]'}`,
    '  context:',
    extra.context ?? prompt,
  ].join('\n');

describe('agent files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'doom-agents-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string) => writeFileSync(join(dir, file), text);

  it('loads every .yml and .yaml file, sorted, with defaults, skipping template.yml and other files', () => {
    write('b-agent.yaml', agentYaml('b-agent', { tier: 'senior', specializations: '[feature, refactor]' }));
    write('a-agent.yml', agentYaml('a-agent'));
    write('template.yml', 'agent:\n  name: "{{name}}"\n');
    write('README.md', '# not an agent');
    const agents = loadAgents(dir);
    expect(agents.map((a) => a.name)).toEqual(['a-agent', 'b-agent']);
    expect(agents[1]).toMatchObject({ tier: 'senior', specializations: ['feature', 'refactor'], max_concurrent_tasks: 2 });
    expect(agents[0]!.context).toEqual({
      system_prompt: 'You are a {{tier}} agent.\n',
      tools_allowed: ['Read', 'Edit', 'Bash', 'Grep'],
      max_context_tokens: 50_000,
      custom_instructions: '',
    });
    expect(agents[0]!.runner.kind).toBe('claude-code');
  });

  it('accepts and ignores the seed performance block', () => {
    write('p.yml', `${agentYaml('p')}  performance:\n    rolling_avg_reward: 3\n    total_tasks: 4\n    last_10_rewards: [1, 2]\n`);
    expect(loadAgents(dir)[0]!.name).toBe('p');
  });

  it('a bad tier', () => {
    write('a.yml', agentYaml('a', { tier: 'boss' }));
    expect(configError(() => loadAgents(dir))).toBe(
      `${join(dir, 'a.yml')}: agent.tier: Invalid option: expected one of "junior"|"senior"|"principal"|"suspended"`,
    );
  });

  it('empty specializations', () => {
    write('a.yml', agentYaml('a', { specializations: '[]' }));
    expect(configError(() => loadAgents(dir))).toBe(`${join(dir, 'a.yml')}: agent.specializations: Too small: expected array to have >=1 items`);
  });

  it('an unknown specialization', () => {
    write('a.yml', agentYaml('a', { specializations: '[bugfix, docs]' }));
    expect(configError(() => loadAgents(dir))).toBe(
      `${join(dir, 'a.yml')}: agent.specializations.1: Invalid option: expected one of "bugfix"|"feature"|"refactor"|"security"`,
    );
  });

  it('a missing system_prompt', () => {
    write('a.yml', agentYaml('a', { context: '    tools_allowed: [Read]\n' }));
    expect(configError(() => loadAgents(dir))).toBe(
      `${join(dir, 'a.yml')}: agent.context.system_prompt: Invalid input: expected string, received undefined`,
    );
  });

  it('an unknown key in an agent', () => {
    write('a.yml', `${agentYaml('a')}  budget: 5\n`);
    expect(configError(() => loadAgents(dir))).toBe(`${join(dir, 'a.yml')}: agent: Unrecognized key: "budget"`);
  });

  it('a name that is not the file name', () => {
    write('agent-x.yml', agentYaml('agent-y'));
    expect(configError(() => loadAgents(dir))).toBe(`${join(dir, 'agent-x.yml')}: agent.name: expected "agent-x" (the file name), got "agent-y"`);
  });

  it('an invalid name', () => {
    expect(configError(() => parseAgentText(agentYaml('Agent X'), 'f.yml'))).toBe(
      'f.yml: agent.name: lowercase letters, digits, ".", "_" or "-", at most 63',
    );
  });

  it('a duplicate name', () => {
    write('dup.yml', agentYaml('dup'));
    write('dup.yaml', agentYaml('dup'));
    const message = configError(() => loadAgents(dir));
    expect(message).toBe(`${join(dir, 'dup.yml')}: agent.name: "dup" is already defined in ${join(dir, 'dup.yaml')}`);
  });

  it('invalid YAML, with the line', () => {
    write('a.yml', 'agent:\n  name: a\n  specializations: [bugfix\n  tier: junior\n');
    expect(configError(() => loadAgents(dir))).toMatch(new RegExp(`^${join(dir, 'a.yml').replace(/[.\\/]/g, '\\$&')}: not valid YAML \\(line \\d+\\): `));
  });

  it('an empty file', () => {
    write('a.yml', '');
    expect(configError(() => loadAgents(dir))).toMatch(/a\.yml: \(top level\): .*expected object/);
  });

  it('a missing agents directory', () => {
    const missing = join(dir, 'nope');
    expect(configError(() => loadAgents(missing))).toBe(`${missing}: agents directory does not exist`);
  });

  it('loadConfig reads <config dir>/agents and stops at the first bad agent', () => {
    writeFileSync(join(dir, 'doom-rlvr.toml'), readFileSync(shippedToml, 'utf8'));
    expect(configError(() => loadConfig(join(dir, 'doom-rlvr.toml')))).toBe(`${join(dir, 'agents')}: agents directory does not exist`);
    mkdirSync(join(dir, 'agents'));
    writeFileSync(join(dir, 'agents', 'solo.yml'), agentYaml('solo', { tier: 'principal' }));
    const loaded = loadConfig(join(dir, 'doom-rlvr.toml'));
    expect(loaded.agents.map((a) => [a.name, a.tier])).toEqual([['solo', 'principal']]);
    writeFileSync(join(dir, 'agents', 'bad.yml'), agentYaml('bad', { tier: 'boss' }));
    expect(configError(() => loadConfig(join(dir, 'doom-rlvr.toml')))).toContain(`${join(dir, 'agents', 'bad.yml')}: agent.tier:`);
  });
});
