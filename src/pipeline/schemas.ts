/**
 * The pipeline's contracts, after the Valhalla seed's CUE schema: `Spec`, `Policy`, `Rubric`,
 * `Implementation` and `ExecutionState` are zod schemas (zod is this project's contract
 * language in place of CUE). The config's `[pipeline]` section is parsed with `Policy`, the
 * store decodes its JSON columns with the others, and `doom schema export` writes them as
 * JSON Schema for other tools.
 *
 * ```ts
 * const state = ExecutionState.parse(JSON.parse(row.state));
 * const docs = exportSchemas(); // { Spec: {...JSON Schema...}, Policy: {...}, ... }
 * ```
 */
import { z } from 'zod';

/**
 * Every phase the seed names. `brief` and `plan` are declared here (and in dag.ts) so a later
 * issue adds them as data; until then a policy that asks for them is refused at start-up.
 */
export const phaseNames = ['spec', 'brief', 'plan', 'tests', 'implement', 'review', 'repair', 'merge', 'docs'] as const;
export const PhaseName = z.enum(phaseNames);
export type PhaseName = z.infer<typeof PhaseName>;

/** A budget in the three units the bot can enforce; 0 means none of that unit may be spent. */
export const Budget = z
  .object({
    tokens: z.number().int().min(0),
    usd: z.number().min(0),
    wall_ms: z.number().int().min(0),
  })
  .strict();
export type Budget = z.infer<typeof Budget>;

/** The checks the bot runs itself on every candidate. */
export const gateNames = ['guards', 'oracle', 'suite', 'lint'] as const;
export const GateName = z.enum(gateNames);
export type GateName = z.infer<typeof GateName>;

/** `critical`: a candidate that fails it cannot win; `warn`: it only ranks lower and is said so. */
export const GateLevel = z.enum(['critical', 'warn', 'off']);
export type GateLevel = z.infer<typeof GateLevel>;

export const Rubric = z
  .object({
    gates: z
      .object({
        guards: GateLevel.default('critical'),
        oracle: GateLevel.default('critical'),
        suite: GateLevel.default('critical'),
        lint: GateLevel.default('warn'),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type Rubric = z.infer<typeof Rubric>;

export const Policy = z
  .object({
    /** The phases that run, in any order: the DAG (dag.ts) decides the order. */
    phases: z.array(PhaseName).min(1),
    /** How many candidate patches the implementation phase may make (K). */
    candidates: z.number().int().min(1).max(10),
    budget: z
      .object({
        total: Budget,
        /** Per phase; a phase left out may spend what remains of the total. */
        phases: z.partialRecord(PhaseName, Budget).default({}),
      })
      .strict(),
    stopping: z
      .object({
        /** Stop making candidates once one passes every critical gate and the oracle. */
        stop_on_first_pass: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    repair: z.object({ max_rounds: z.number().int().min(0).max(5).default(1) }).strict().prefault({}),
    /** Task types whose oracle test is written first (the tests phase runs only for these). */
    tests_first: z.array(z.enum(['bugfix', 'feature', 'refactor', 'security'])).default(['bugfix']),
    rubric: Rubric.prefault({}),
  })
  .strict();
export type Policy = z.infer<typeof Policy>;

/** One acceptance criterion and, once checked, what verified it. */
export const Criterion = z
  .object({
    id: z.string().min(1),
    text: z.string().min(1).max(2_000),
    verified_by: z.string().nullable().default(null),
    met: z.boolean().nullable().default(null),
  })
  .strict();

export const Spec = z
  .object({
    /** `issue`: the YAML block's `acceptance:` list; `agent`: written by the spec step. */
    source: z.enum(['issue', 'agent', 'title']),
    acceptance: z.array(Criterion).min(1).max(50),
    /** The oracle: test files the tests phase wrote, and their verdict on the base commit. */
    oracle: z
      .object({
        files: z.array(z.string().min(1)),
        commit: z.string().nullable(),
        command: z.array(z.string()),
        base: z.enum(['fails', 'passes', 'not_run']),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();
export type Spec = z.infer<typeof Spec>;

export const CheckVerdict = z.enum(['pass', 'fail', 'flaky', 'skipped']);
export type CheckVerdict = z.infer<typeof CheckVerdict>;

export const Checks = z
  .object({
    guards: CheckVerdict,
    oracle: CheckVerdict,
    suite: CheckVerdict,
    lint: CheckVerdict,
    /** Short evidence per check (the tail of a failing command, the protected files). */
    notes: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type Checks = z.infer<typeof Checks>;

export const CandidateRecord = z
  .object({
    index: z.number().int().min(0),
    agent: z.string(),
    /** `implement` or `repair-<n>`: repaired candidates are candidates of their own. */
    variant: z.string(),
    outcome: z.enum(['success', 'failed', 'token_limit', 'timeout', 'cancelled', 'budget']),
    commit: z.string().nullable(),
    diff_lines: z.number().int().min(0),
    patch_hash: z.string().nullable(),
    cluster: z.number().int().min(0).nullable(),
    checks: Checks.nullable(),
    tokens: z.number().int().min(0),
    cost_usd: z.number().min(0),
    duration_ms: z.number().min(0),
  })
  .strict();
export type CandidateRecord = z.infer<typeof CandidateRecord>;

export const PairOutcome = z
  .object({
    winner: z.number().int(),
    loser: z.number().int(),
    winner_agent: z.string(),
    loser_agent: z.string(),
    reason: z.string(),
  })
  .strict();
export type PairOutcome = z.infer<typeof PairOutcome>;

export const Implementation = z
  .object({
    candidates: z.array(CandidateRecord),
    selected: z.number().int().nullable(),
    /** Why the winner won, step by step of the selection order. */
    reasons: z.array(z.string()),
    pairs: z.array(PairOutcome),
  })
  .strict();
export type Implementation = z.infer<typeof Implementation>;

export const PhaseStatus = z.enum(['pending', 'running', 'done', 'skipped', 'failed', 'stopped']);
export type PhaseStatus = z.infer<typeof PhaseStatus>;

export const PhaseRecord = z
  .object({
    status: PhaseStatus,
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    /** What happened, in a word or two: `done`, `could_not_reproduce`, `budget`, `no_passing_candidate` … */
    outcome: z.string().nullable(),
    tokens: z.number().int().min(0),
    cost_usd: z.number().min(0),
    duration_ms: z.number().min(0),
    budget: Budget.nullable(),
    note: z.string().nullable(),
  })
  .strict();
export type PhaseRecord = z.infer<typeof PhaseRecord>;

export const BreakerRecord = z
  .object({ agent: z.string(), reason: z.string(), open_until: z.string() })
  .strict();

export const ExecutionState = z
  .object({
    task_id: z.number().int(),
    /** The attempt (assignment) this execution belongs to. */
    attempt: z.number().int(),
    priority: z.string(),
    phase: PhaseName.nullable(),
    phases: z.partialRecord(PhaseName, PhaseRecord),
    gates_passed: z.array(GateName),
    budget: z.object({ total: Budget, spent: Budget }).strict(),
    breakers: z.array(BreakerRecord),
    spec: Spec.nullable(),
    implementation: Implementation.nullable(),
    outcome: z.string().nullable(),
  })
  .strict();
export type ExecutionState = z.infer<typeof ExecutionState>;

/** The schemas `doom schema export` writes, by their seed names. */
export const exportedSchemas = { Spec, Policy, Rubric, Implementation, ExecutionState } as const;

/** Each schema as a JSON Schema document (draft 2020-12), by name. */
export function exportSchemas(): Record<keyof typeof exportedSchemas, unknown> {
  const out = {} as Record<keyof typeof exportedSchemas, unknown>;
  for (const [name, schema] of Object.entries(exportedSchemas) as [keyof typeof exportedSchemas, z.ZodType][]) {
    out[name] = { $id: `https://doom-rlvr.dev/schemas/${name}.json`, title: name, ...z.toJSONSchema(schema, { io: 'input' }) };
  }
  return out;
}
