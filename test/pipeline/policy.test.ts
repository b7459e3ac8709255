import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { configSchema } from '../../src/config/schema.js';
import { agentBreaker, isModelApiError, modelApiBreaker } from '../../src/pipeline/breakers.js';
import { allowanceFor, overLimits, stepLimits } from '../../src/pipeline/budget.js';
import { decideNext, phaseOrder, phasesProblem, phaseDag } from '../../src/pipeline/dag.js';
import { budgetProblems } from '../../src/pipeline/policy.js';

describe('[pipeline] config', () => {
  it('is off by default, with K = 3, 2, 1 for P0, P1, P2 and budgets within their totals', () => {
    const { pipeline } = configSchema.parse({});
    expect(pipeline.enabled).toBe(false);
    expect([pipeline.policies.P0.candidates, pipeline.policies.P1.candidates, pipeline.policies.P2.candidates]).toEqual([3, 2, 1]);
    for (const p of Object.values(pipeline.policies)) expect(budgetProblems(p)).toEqual([]);
    expect(pipeline.policies.P1.rubric.gates).toEqual({ guards: 'critical', oracle: 'critical', suite: 'critical', lint: 'warn' });
  });

  it('keeps a priority\'s defaults for the fields an operator leaves out', () => {
    const config = parseConfigText('[pipeline]\nenabled = true\n[pipeline.policies.P2]\ncandidates = 2\n', 'doom-rlvr.toml');
    expect(config.pipeline.policies.P2).toMatchObject({ candidates: 2, phases: expect.arrayContaining(['spec', 'implement']) });
    expect(config.pipeline.policies.P2.budget.total.tokens).toBe(500_000);
  });

  it('refuses phase budgets that sum past the total, naming the numbers', () => {
    const text = [
      '[pipeline.policies.P0.budget]',
      'total = { tokens = 100000, usd = 1, wall_ms = 60000 }',
      'phases.implement = { tokens = 80000, usd = 0.5, wall_ms = 30000 }',
      'phases.repair = { tokens = 40000, usd = 0.75, wall_ms = 10000 }',
    ].join('\n');
    expect(() => parseConfigText(text, 'doom-rlvr.toml')).toThrow(ConfigError);
    expect(() => parseConfigText(text, 'doom-rlvr.toml')).toThrow(
      "doom-rlvr.toml: pipeline.policies.P0.budget: the phases' tokens sum to 120,000 (implement 80,000 + repair 40,000), more than the total of 100,000\n" +
        "doom-rlvr.toml: pipeline.policies.P0.budget: the phases' usd sum to $1.25 (implement $0.5 + repair $0.75), more than the total of $1",
    );
  });

  it('refuses phases this build does not have, and a list without the required ones', () => {
    expect(() => parseConfigText('[pipeline.policies.P1]\nphases = ["spec", "brief", "implement", "review", "merge"]\n', 'c.toml')).toThrow(
      'c.toml: pipeline.policies.P1.phases: phase brief is not built yet',
    );
    expect(() => parseConfigText('[pipeline.policies.P1]\nphases = ["spec", "implement"]\n', 'c.toml')).toThrow('phases must include review, merge');
  });
});

describe('the README', () => {
  it("shows a policy config that the bot takes as it is", () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const block = /### Policy config\n\n```toml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const config = parseConfigText(block!, 'README.md');
    expect(config.pipeline).toMatchObject({ enabled: true, parallel: 2 });
    expect(config.pipeline.policies.P0.rubric.gates.lint).toBe('warn');
  });
});

describe('the phase DAG', () => {
  it('orders the enabled phases by their edges, whatever order the policy lists them in', () => {
    expect(phaseOrder(['docs', 'merge', 'review', 'implement', 'tests', 'spec', 'repair'])).toEqual(['spec', 'tests', 'implement', 'review', 'repair', 'merge', 'docs']);
    expect(phaseOrder(['merge', 'implement', 'review'])).toEqual(['implement', 'review', 'merge']);
  });

  it('takes a new phase as data: a built brief runs between spec and tests', () => {
    const dag = phaseDag.map((n) => (n.name === 'brief' ? { ...n, built: true } : n));
    expect(phasesProblem(['spec', 'brief', 'implement', 'review', 'merge'], dag)).toBeNull();
    expect(phaseOrder(['implement', 'brief', 'spec', 'tests', 'review', 'merge'], dag)).toEqual(['spec', 'brief', 'tests', 'implement', 'review', 'merge']);
  });

  it('refuses a cycle', () => {
    const dag = phaseDag.map((n) => (n.name === 'spec' ? { ...n, after: ['implement' as const] } : n));
    expect(() => phaseOrder(['spec', 'implement', 'review', 'merge'], dag)).toThrow('cycle among spec, implement');
  });

  const order = phaseOrder(['spec', 'tests', 'implement', 'review', 'repair', 'merge', 'docs']);
  it.each([
    ['the first phase first', {}, { kind: 'run', phase: 'spec' }],
    ['past what is done or skipped', { spec: { status: 'done' }, tests: { status: 'skipped' } }, { kind: 'run', phase: 'implement' }],
    ['a stopped phase kept its output: what follows runs', { spec: { status: 'done' }, tests: { status: 'done' }, implement: { status: 'stopped' } }, { kind: 'run', phase: 'review' }],
    ['after a failure its successors are skipped', { spec: { status: 'done' }, tests: { status: 'failed' } }, { kind: 'skip', phase: 'implement', why: 'after tests, which failed' }],
    [
      'and theirs in turn',
      { spec: { status: 'done' }, tests: { status: 'failed' }, implement: { status: 'skipped' } },
      { kind: 'skip', phase: 'review', why: 'after implement, which could not run' },
    ],
    [
      'a repair not needed does not block the merge',
      { spec: { status: 'done' }, tests: { status: 'done' }, implement: { status: 'done' }, review: { status: 'done' }, repair: { status: 'skipped' } },
      { kind: 'run', phase: 'merge' },
    ],
    ['the end', Object.fromEntries(order.map((p) => [p, { status: 'done' }])), { kind: 'end' }],
  ] as const)('%s', (_name, records, next) => {
    expect(decideNext(order, records)).toEqual(next);
  });
});

describe('budgets', () => {
  const total = { tokens: 1000, usd: 1, wall_ms: 10_000 };
  it('give a phase its own budget less what it spent, within what is left of the total', () => {
    expect(allowanceFor({ tokens: 600, usd: 0.5, wall_ms: 5000 }, total, { tokens: 700, usd: 0.2, wall_ms: 1000 }, { tokens: 100, usd: 0.1, wall_ms: 0 })).toEqual({
      tokens: 300,
      usd: 0.4,
      wall_ms: 5000,
    });
    expect(allowanceFor(undefined, total, { tokens: 200, usd: 0, wall_ms: 0 }, { tokens: 0, usd: 0, wall_ms: 0 })).toEqual({ tokens: 800, usd: 1, wall_ms: 10_000 });
  });

  it('refuse a step when any unit is used up, and split what is left between steps', () => {
    expect(stepLimits({ tokens: 0, usd: 1, wall_ms: 10 }, { maxTokens: 100, timeoutMs: 100 })).toEqual({ kind: 'refused', reason: 'no tokens left in the budget' });
    expect(stepLimits({ tokens: 900, usd: 0.9, wall_ms: 9000 }, { maxTokens: 200, timeoutMs: 60_000 }, 3)).toEqual({ kind: 'go', maxTokens: 200, maxUsd: 0.3, timeoutMs: 3000 });
    expect(overLimits({ tokens: 10, usd: 0.31 }, { maxTokens: 200, maxUsd: 0.3 })).toBe('token_limit');
    expect(overLimits({ tokens: 10, usd: 0.3 }, { maxTokens: 200, maxUsd: 0.3 })).toBeNull();
  });
});

describe('circuit breakers', () => {
  const rules = { failures_in_a_row: 3, cooldown_ms: 60_000, model_api_pause_ms: 30_000 };
  const at = (ms: number) => new Date(ms).toISOString();
  const fail = (ms: number, error: string | null = 'exit 1') => ({ passed: false, error, at: at(ms) });
  it.each([
    ['opens after N failures in a row, until the cool-down after the last', [fail(100_000), fail(90_000), fail(80_000)], 120_000, { open: true, until: at(160_000), reason: 'failed its last 3 runs in a row' }],
    ['closes once the cool-down has passed', [fail(100_000), fail(90_000), fail(80_000)], 160_000, { open: false }],
    ['stays closed when a pass breaks the streak', [fail(100_000), { passed: true, error: null, at: at(90_000) }, fail(80_000)], 120_000, { open: false }],
    ['stays closed with fewer than N runs', [fail(100_000), fail(90_000)], 120_000, { open: false }],
  ])('%s', (_name, recent, now, breaker) => {
    expect(agentBreaker(recent, rules, now)).toEqual(breaker);
  });

  it('pauses new candidates after a model-API error', () => {
    expect(isModelApiError('claude exited with 1: API Error: 529 {"type":"overloaded_error"}')).toBe(true);
    expect(isModelApiError('node exited with 1: assertion failed')).toBe(false);
    const recent = [fail(100_000, 'exit 1'), fail(95_000, 'API Error: 500 internal')];
    expect(modelApiBreaker(recent, rules, 110_000)).toMatchObject({ open: true, until: at(125_000) });
    expect(modelApiBreaker(recent, rules, 125_000)).toEqual({ open: false });
  });
});
