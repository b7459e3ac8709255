/**
 * The shapes of `config/doom-rlvr.toml` and `config/agents/*.yml`, after the seed's schemas.
 * Everything here is data the operator edits; secrets never live in these files.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { defaultProtectedPaths } from '../policy/guards.js';
import { pipelineConfig } from '../pipeline/policy.js';

export const taskTypes = ['bugfix', 'feature', 'refactor', 'security'] as const;
export const taskType = z.enum(taskTypes);
export type TaskType = z.infer<typeof taskType>;

export const priorities = ['P0', 'P1', 'P2'] as const;
export const priority = z.enum(priorities);
export type Priority = z.infer<typeof priority>;

export const assignableTiers = ['junior', 'senior', 'principal'] as const;
export const tier = z.enum(['junior', 'senior', 'principal', 'suspended']);
export type Tier = z.infer<typeof tier>;
export const assignableTier = z.enum(assignableTiers);
export type AssignableTier = z.infer<typeof assignableTier>;

const positiveInt = z.number().int().positive();

/**
 * Why `expression` is not a recurring cron pattern croner accepts (5 fields, or 6 with
 * seconds, or a nickname like `@daily`), or null when it is one. A date (croner would run it
 * once) is refused too.
 */
export function cronProblem(expression: string): string | null {
  // croner reads a string with a colon as a date to run once at; no cron pattern has one.
  if (expression.includes(':')) return 'expected a recurring cron pattern, not a date';
  let job: Cron;
  try {
    job = new Cron(expression, { paused: true });
  } catch (error) {
    return (error as Error).message.replace(/^CronPattern: /, '');
  }
  try {
    return job.nextRun() === null ? 'the pattern never fires' : null;
  } finally {
    job.stop();
  }
}

const cronExpression = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `invalid cron expression "${value}": ${problem}` });
});

/** The six reward components of the seed, by their config key. */
export const weightsSchema = z
  .object({
    test_coverage: z.number().min(0).max(1),
    lint_score: z.number().min(0).max(1),
    security_scan: z.number().min(0).max(1),
    complexity: z.number().min(0).max(1),
    ci_status: z.number().min(0).max(1),
    review_feedback: z.number().min(0).max(1),
  })
  .strict()
  .refine((w) => Math.abs(Object.values(w).reduce((a, b) => a + b, 0) - 1) < 1e-6, {
    message: 'weights must sum to 1',
  });
export type Weights = z.infer<typeof weightsSchema>;

const reportLocation = z.object({ artifact: z.string().min(1), path: z.string().min(1) }).strict();
const reportsSchema = z
  .object({
    coverage: z.array(reportLocation).default([
      { artifact: 'test', path: 'coverage/lcov.info' },
      { artifact: 'test', path: 'coverage/cobertura-coverage.xml' },
      { artifact: 'coverage', path: 'lcov.info' },
      { artifact: 'coverage', path: 'coverage/lcov.info' },
    ]),
    lint: z.array(reportLocation).default([
      { artifact: 'code_quality', path: 'gl-code-quality-report.json' },
      { artifact: 'lint', path: 'eslint-report.json' },
      { artifact: 'lint', path: 'eslint.sarif' },
    ]),
    security: z.array(reportLocation).default([
      { artifact: 'semgrep-sast', path: 'gl-sast-report.json' },
      { artifact: 'sast', path: 'gl-sast-report.json' },
      { artifact: 'sast', path: 'results.sarif' },
      { artifact: 'codeql', path: 'results.sarif' },
    ]),
  })
  .strict();
export type ReportsConfig = z.infer<typeof reportsSchema>;

/**
 * One of a local repository's own commands: an argv (no shell), and where its report is (a file
 * relative to the repository; absent, its standard output is the report).
 */
const localCommand = z
  .object({
    run: z.array(z.string().min(1)).min(1),
    report: z.string().min(1).optional(),
    timeout_ms: positiveInt.max(3_600_000).default(600_000),
  })
  .strict();
export type LocalCommand = z.infer<typeof localCommand>;

/** The `local` forge's pipeline: `test` decides the CI verdict; the others give reports. */
const localCommands = z
  .object({ test: localCommand, coverage: localCommand.optional(), lint: localCommand.optional(), security: localCommand.optional() })
  .strict();
export type LocalCommands = z.infer<typeof localCommands>;

const commandRole = z.enum(['write', 'maintain']);

export const configSchema = z
  .object({
    /** Repositories on disk (the `local` forge), keyed by absolute path: their own commands. */
    repositories: z.record(z.string(), z.object({ commands: localCommands }).strict()).default({}),
    coordinator: z
      .object({
        port: z.number().int().min(0).max(65535).default(8080),
        max_concurrent_agents: positiveInt.default(10),
        task_timeout_default_ms: positiveInt.default(300_000),
        max_tokens_default: positiveInt.default(200_000),
        /** Dollars a run may spend unless the issue says otherwise; unset: runs are limited by tokens only. */
        max_usd_default: z.number().positive().max(10_000).optional(),
        /** `[routing] choice = "ucb"`: standard deviations of the posterior added to its mean (see routing/router.ts). */
        exploration: z.number().min(0).default(0.5),
      })
      .strict()
      .prefault({}),
    evaluator: z
      .object({
        /**
         * Where each report lives: a GitHub workflow-run artifact name or GitLab job name, and
         * the file in it. Tried in order; the first found wins.
         */
        reports: reportsSchema.prefault({}),
        /** Per-repository overrides of `reports`, keyed by `owner/name` or the GitLab project path. */
        repositories: z.record(z.string(), z.object({ reports: reportsSchema.prefault({}) }).strict()).default({}),
        /** Values for components whose signal cannot be fetched; such a reward is marked degraded. */
        defaults: z
          .object({
            test_coverage_delta: z.number().min(-1).max(1).default(0),
            lint_score: z.number().min(0).max(1).default(0.5),
            security_scan_score: z.number().min(0).max(1).default(0.5),
            code_complexity_delta: z.number().min(-1).max(1).default(-0.5),
            /** Used only when a guard flags the change (see `[policy]`): CI cannot be trusted then. */
            ci_pipeline_status: z.number().min(0).max(1).default(0),
          })
          .strict()
          .prefault({}),
        /** Project-coverage change, in percentage points, that counts as the full ±1 (used when there is no patch coverage). */
        coverage_full_scale_points: z.number().positive().default(10),
        weights: weightsSchema.default({
          test_coverage: 0.3,
          lint_score: 0.2,
          security_scan: 0.2,
          complexity: 0.1,
          ci_status: 0.1,
          review_feedback: 0.1,
        }),
      })
      .strict()
      .prefault({}),
    scoreboard: z
      .object({
        retention_days: positiveInt.default(90),
        compact_on_startup: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    tiers: z
      .object({
        promotion_threshold: z.number().default(4.0),
        demotion_threshold: z.number().default(2.0),
        suspension_threshold: z.number().default(0.0),
        evaluation_window: positiveInt.default(10),
        /** When the nightly recompute (tiers/recompute.ts) runs: cron, in the server's time zone. */
        recompute_cron: cronExpression.default('0 3 * * *'),
        /**
         * How many standard errors the bounds of an agent's mean reach (1.645: one-sided 95%).
         * Promotion needs the lower bound over a threshold, demotion the upper bound under one.
         */
        confidence: z.number().min(0).max(5).default(1.645),
        /** How far under a tier's threshold the upper bound must fall before the agent leaves it. */
        hysteresis: z.number().min(0).default(0.25),
        /** Rewards do not suspend an agent with fewer settled outcomes than this. */
        suspension_min_rewards: z.number().int().min(1).default(5),
        /** After this long suspended by rewards (not by an operator), an agent gets one probation task. */
        probation_cooldown_ms: z.number().int().min(0).default(86_400_000),
      })
      .strict()
      .refine((t) => t.suspension_threshold <= t.demotion_threshold && t.demotion_threshold <= t.promotion_threshold, {
        message: 'thresholds must satisfy suspension_threshold <= demotion_threshold <= promotion_threshold',
      })
      .prefault({}),
    labels: z
      .object({
        trigger: z.string().min(1).default('doom'),
        assigned: z.string().min(1).default('doom:assigned'),
        bot_authored: z.string().min(1).default('doom:bot-authored'),
        /** On a merge request whose change a guard flagged (see `[policy]`). */
        protected_change: z.string().min(1).default('doom:protected-change'),
        /** Issue label → task type. */
        types: z.record(z.string(), taskType).default({
          bugfix: 'bugfix',
          bug: 'bugfix',
          feature: 'feature',
          enhancement: 'feature',
          refactor: 'refactor',
          security: 'security',
        }),
        default_type: taskType.default('feature'),
        /** Issue label → priority. */
        priorities: z.record(z.string(), priority).default({ P0: 'P0', P1: 'P1', P2: 'P2' }),
        default_priority: priority.default('P2'),
        /** Prefix of the label that forces an agent: `agent:<name>`. */
        force_agent_prefix: z.string().min(1).default('agent:'),
      })
      .strict()
      .prefault({}),
    /** Which tiers may take a task of each priority, and how the router chooses among them. */
    routing: z
      .object({
        P0: z.array(assignableTier).min(1).default(['principal']),
        P1: z.array(assignableTier).min(1).default(['senior', 'principal']),
        P2: z.array(assignableTier).min(1).default(['junior', 'senior', 'principal']),
        /** `thompson`: a draw from each agent's posterior for the task type; `ucb`: its mean plus `exploration` standard deviations. */
        choice: z.enum(['ucb', 'thompson']).default('ucb'),
        /** The reward a failed or empty run counts as, in the router's and the tiers' statistics. */
        failed_run_reward: z.number().min(-5).max(5).default(0),
        /** A P0 that no principal has taken after this long goes to the best senior by lower bound. */
        p0_max_wait_ms: z.number().int().min(0).default(900_000),
        /** Reward points added per task tag that the agent file's `tags` list. */
        tag_bonus: z.number().min(0).default(0.5),
        /**
         * Reward points per unit of log Bradley–Terry strength from the pipeline's head-to-head
         * pairs (src/pipeline/head-to-head.ts): an agent whose candidates keep beating others'
         * on the same task ranks higher. 0 turns it off.
         */
        head_to_head_weight: z.number().min(0).default(0.5),
        /** The spread of one reward before any is seen (reward points), and its weight in pseudo-rewards. */
        prior_sd: z.number().positive().default(1.5),
        prior_weight: z.number().positive().default(2),
        /** How many of its own rewards a task type needs before they outweigh the agent's overall record. */
        type_prior_weight: z.number().positive().default(1),
      })
      .strict()
      .prefault({}),
    inbox: z
      .object({
        /** How often the background processor looks for stored deliveries. */
        poll_interval_ms: positiveInt.default(200),
        max_attempts: positiveInt.default(5),
        retry_base_ms: positiveInt.default(1_000),
        /** Deliveries handled at once. */
        concurrency: positiveInt.default(4),
        /** `/readyz` answers 503 while a due delivery has waited longer than this. */
        stuck_after_ms: positiveInt.default(300_000),
      })
      .strict()
      .prefault({}),
    forges: z
      .object({
        /**
         * Per attempt of every forge API call, the answer's body included. A write that times
         * out is not resent (it may have been applied); a read is.
         */
        request_timeout_ms: positiveInt.default(30_000),
        /**
         * The longest rate-limit wait slept inside a call. A longer one (GitHub's secondary
         * limit asks for at least a minute) puts the delivery back on the inbox's schedule
         * instead of holding its slot.
         */
        max_inline_wait_ms: z.number().int().min(0).default(5_000),
        github: z
          .object({
            /** Where the bot's comments link to and what `Closes #N` means. */
            enabled: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        gitlab: z
          .object({
            enabled: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    executor: z
      .object({
        /** `local`: a bounded pool of child processes on this machine. */
        kind: z.enum(['local']).default('local'),
        /** Bare mirrors, one per repository, reused by every run. */
        mirror_dir: z.string().min(1).default('./data/mirrors'),
        /** One git worktree per run, removed when the run ends. */
        workspace_dir: z.string().min(1).default('./data/workspaces'),
        mirror_disk_budget_mb: positiveInt.default(10_240),
        /** How many times a task may move up a tier after timeouts or token limits. */
        max_escalations: z.number().int().min(0).default(2),
        /** The identity of the bot's commits. */
        bot_name: z.string().min(1).default('doom-rlvr[bot]'),
        bot_email: z.email().default('doom-rlvr@users.noreply.github.com'),
      })
      .strict()
      .prefault({}),
    /**
     * Reward-hacking guards (policy/guards.ts): what an agent may not change unnoticed.
     * `protected_paths` are globs (no slash: any depth); a repository adds its own under
     * `[policy.repositories."<path>"]`.
     */
    policy: z
      .object({
        protected_paths: z.array(z.string().min(1)).default([...defaultProtectedPaths]),
        on_protected_change: z.enum(['refuse', 'flag']).default('refuse'),
        repositories: z
          .record(z.string(), z.object({ protected_paths: z.array(z.string().min(1)).default([]) }).strict())
          .default({}),
      })
      .strict()
      .prefault({}),
    /** The Valhalla pipeline (src/pipeline/policy.ts); off by default. */
    pipeline: pipelineConfig.prefault({}),
    server: z
      .object({
        /** Webhook bodies above this are refused with 413 before they are read. */
        max_body_bytes: positiveInt.default(25 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    commands: z
      .object({
        /**
         * The role each `/doom` command needs: `write` (GitHub write, maintain or admin;
         * GitLab Developer and up) or `maintain` (GitHub maintain or admin; GitLab
         * Maintainer and up). Checked with the same permission guard as labels.
         */
        roles: z
          .object({
            help: commandRole.default('write'),
            status: commandRole.default('write'),
            assign: commandRole.default('write'),
            retry: commandRole.default('write'),
            escalate: commandRole.default('write'),
            cancel: commandRole.default('write'),
            revise: commandRole.default('write'),
            feedback: commandRole.default('write'),
            budget: commandRole.default('write'),
            leaderboard: commandRole.default('write'),
            promote: commandRole.default('maintain'),
            suspend: commandRole.default('maintain'),
            reinstate: commandRole.default('maintain'),
          })
          .strict()
          .prefault({}),
        /** The most tokens `/doom budget` may give one task. */
        max_budget_tokens: positiveInt.default(1_000_000),
        /** The most dollars per run `/doom budget $<usd>` may give a task. */
        max_budget_usd: z.number().positive().max(10_000).default(20),
      })
      .strict()
      .prefault({}),
    /** Review rounds: a reviewer's request for changes on a bot MR runs its agent again (tasks/revisions.ts). */
    review: z
      .object({
        /** Revision runs per merge request; a request beyond this is answered, not run. */
        max_rounds: z.number().int().min(0).max(20).default(3),
      })
      .strict()
      .prefault({}),
    /** CI fixes: a failed pipeline on a bot MR runs its agent again with the failing job's log (tasks/ci-fixes.ts). */
    ci_fix: z
      .object({
        enabled: z.boolean().default(false),
        /** Fix runs per merge request; at the cap the MR is told, and no further pipeline starts one. */
        max_rounds: z.number().int().min(0).max(20).default(2),
        /** Most characters of the job log quoted in the prompt (the lines around the first error, then the tail). */
        log_max_chars: z.number().int().min(1_000).max(200_000).default(12_000),
      })
      .strict()
      .prefault({}),
    security: z
      .object({
        /**
         * Bot logins (GitHub `renovate[bot]`, GitLab `project_7_bot_…`) whose labels and edits
         * count as a permitted person's. Every other bot is ignored.
         */
        allowed_bots: z.array(z.string().min(1)).default([]),
        /** How long a looked-up permission is trusted before the forge is asked again. */
        permission_cache_ttl_ms: z.number().int().min(0).max(3_600_000).default(60_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
