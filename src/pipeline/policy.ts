/**
 * The `[pipeline]` config section: whether the pipeline runs at all (off by default: a task
 * is then one agent run, as before), and a `Policy` per priority. Parsing checks what can be
 * checked before any task runs: every phase is one this build has, and the per-phase budgets
 * fit in the total, with a message naming the numbers.
 *
 * ```toml
 * [pipeline]
 * enabled = true
 * [pipeline.policies.P0]
 * candidates = 3
 * budget.total = { tokens = 1500000, usd = 15, wall_ms = 3600000 }
 * ```
 */
import { z } from 'zod';
import { phasesProblem } from './dag.js';
import { Budget, Policy, type PhaseName } from './schemas.js';

const allPhases: PhaseName[] = ['spec', 'tests', 'implement', 'review', 'repair', 'merge', 'docs'];

const b = (tokens: number, usd: number, wallMs: number): Budget => ({ tokens, usd, wall_ms: wallMs });

/** Per priority: K candidates (P0 3, P1 2, P2 1) and budgets that sum within their totals. */
export const defaultPolicies = {
  P0: {
    phases: allPhases,
    candidates: 3,
    budget: {
      total: b(1_500_000, 15, 3_600_000),
      phases: { spec: b(50_000, 0.5, 300_000), tests: b(150_000, 1.5, 600_000), implement: b(900_000, 9, 1_800_000), repair: b(300_000, 3, 600_000) },
    },
  },
  P1: {
    phases: allPhases,
    candidates: 2,
    budget: {
      total: b(1_000_000, 10, 2_400_000),
      phases: { spec: b(50_000, 0.5, 300_000), tests: b(150_000, 1.5, 600_000), implement: b(600_000, 6, 1_200_000), repair: b(150_000, 1.5, 300_000) },
    },
  },
  P2: {
    phases: allPhases,
    candidates: 1,
    budget: {
      total: b(500_000, 5, 1_800_000),
      phases: { spec: b(25_000, 0.25, 200_000), tests: b(100_000, 1, 400_000), implement: b(300_000, 3, 900_000), repair: b(75_000, 0.75, 300_000) },
    },
  },
} as const satisfies Record<'P0' | 'P1' | 'P2', z.input<typeof Policy>>;

/** A priority's policy: each top-level field the operator leaves out takes that priority's default. */
const policyFor = (defaults: (typeof defaultPolicies)[keyof typeof defaultPolicies]) =>
  Policy.extend({
    phases: Policy.shape.phases.default([...defaults.phases]),
    candidates: Policy.shape.candidates.default(defaults.candidates),
    budget: Policy.shape.budget.default(structuredClone(defaults.budget) as z.infer<typeof Policy.shape.budget>),
  });

const units = [
  ['tokens', (n: number) => n.toLocaleString('en-US')],
  ['usd', (n: number) => `$${Number(n.toFixed(4))}`],
  ['wall_ms', (n: number) => `${n.toLocaleString('en-US')} ms`],
] as const;

/** Pure: why the phase budgets of `policy` do not fit its total, one message per unit, or []. */
export function budgetProblems(policy: Pick<Policy, 'budget'>): string[] {
  const phases = Object.entries(policy.budget.phases) as [PhaseName, Budget][];
  const problems: string[] = [];
  for (const [unit, show] of units) {
    const sum = phases.reduce((s, [, p]) => s + p[unit], 0);
    const total = policy.budget.total[unit];
    // Cents of rounding in a dollar sum are not over budget.
    if (sum - total > (unit === 'usd' ? 1e-9 : 0)) {
      const parts = phases.filter(([, p]) => p[unit] > 0).map(([name, p]) => `${name} ${show(p[unit])}`);
      problems.push(`the phases' ${unit} sum to ${show(sum)} (${parts.join(' + ')}), more than the total of ${show(total)}`);
    }
  }
  return problems;
}

export const pipelineConfig = z
  .object({
    /** Off: a task is one agent run, published as it is (the behaviour before the pipeline). */
    enabled: z.boolean().default(false),
    /** Candidates run at once for one task, within the executor's capacity. */
    parallel: z.number().int().positive().max(10).default(2),
    /** Also push each losing candidate to `<task branch>--c<n>` on the forge (off: they stay in the store and the mirror). */
    push_candidates: z.boolean().default(false),
    /** Where the bot runs the repository's commands on candidates: the agent sandbox, or ("none") as its own user. */
    checks_sandbox: z.enum(['bwrap', 'none']).default('bwrap'),
    breakers: z
      .object({
        /** An agent whose last N pipeline runs all failed is skipped … */
        failures_in_a_row: z.number().int().positive().default(3),
        /** … until this long after its last failure. */
        cooldown_ms: z.number().int().min(0).default(3_600_000),
        /** After a model-API error (overloaded, rate limited, 5xx), no new candidate starts for this long. */
        model_api_pause_ms: z.number().int().min(0).default(300_000),
      })
      .strict()
      .prefault({}),
    policies: z
      .object({ P0: policyFor(defaultPolicies.P0).prefault({}), P1: policyFor(defaultPolicies.P1).prefault({}), P2: policyFor(defaultPolicies.P2).prefault({}) })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [priority, policy] of Object.entries(cfg.policies)) {
      for (const problem of budgetProblems(policy)) ctx.addIssue({ code: 'custom', path: ['policies', priority, 'budget'], message: problem });
      const phases = phasesProblem(policy.phases);
      if (phases) ctx.addIssue({ code: 'custom', path: ['policies', priority, 'phases'], message: phases });
    }
  });
export type PipelineConfig = z.infer<typeof pipelineConfig>;
