/**
 * The `runner:` and `permissions:` sections of an agent file. The lead embeds these in the
 * agent file schema; every message names the field so a bad agent file is easy to fix.
 */
import { z } from 'zod';

/** Placeholders a `command` runner's argv template may use. */
export const argvPlaceholders = ['prompt_file', 'system_prompt_file', 'workdir', 'usage_file'] as const;
export type ArgvPlaceholder = (typeof argvPlaceholders)[number];

const placeholderPattern = /\{([a-z_]+)\}/g;

export const claudeCodeRunnerConfig = z.strictObject({
  kind: z.literal('claude-code'),
  /** `--model`: an alias (`sonnet`, `opus`) or a full model name. Claude Code's default when absent. */
  model: z.string().min(1, 'runner.model must not be empty').optional(),
  /** `--max-turns`; the tighter of this and the run's own cap applies. */
  max_turns: z
    .number({ error: 'runner.max_turns must be a number' })
    .int('runner.max_turns must be a whole number')
    .positive('runner.max_turns must be at least 1')
    .default(30),
  /** Path to the `claude` binary; the bundled `@anthropic-ai/claude-code` one when absent. */
  binary: z.string().min(1, 'runner.binary must not be empty').optional(),
});

export const commandRunnerConfig = z
  .strictObject({
    kind: z.literal('command'),
    /** argv template, run without a shell: `{prompt_file}`, `{system_prompt_file}`, `{workdir}`, `{usage_file}`. */
    argv: z
      .array(z.string({ error: 'runner.argv entries must be strings' }), { error: 'runner.argv must be a list of strings' })
      .min(1, 'runner.argv must name a program'),
    prompt_via: z.enum(['stdin', 'file'], { error: "runner.prompt_via must be 'stdin' or 'file'" }),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.argv[0] === '') {
      ctx.addIssue({ code: 'custom', path: ['argv', 0], message: 'runner.argv[0] (the program) must not be empty' });
    }
    cfg.argv.forEach((arg, i) => {
      for (const m of arg.matchAll(placeholderPattern)) {
        const name = m[1] ?? '';
        if (!(argvPlaceholders as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['argv', i],
            message: `runner.argv[${i}] uses unknown placeholder {${name}}; known: ${argvPlaceholders.map((p) => `{${p}}`).join(', ')}`,
          });
        }
      }
    });
    if (cfg.prompt_via === 'file' && !cfg.argv.some((a) => a.includes('{prompt_file}'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['argv'],
        message: "runner.prompt_via is 'file' but runner.argv never mentions {prompt_file}",
      });
    }
  });

export const scriptedRunnerConfig = z
  .strictObject({
    kind: z.literal('scripted'),
    /** A unified diff applied with `git apply` in the workdir. */
    patch: z.string().min(1, 'runner.patch must not be empty').optional(),
    /** An argv run in the workdir (no shell). */
    script: z.array(z.string()).min(1, 'runner.script must name a program').optional(),
  })
  .superRefine((cfg, ctx) => {
    if ((cfg.patch === undefined) === (cfg.script === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'a scripted runner needs exactly one of runner.patch or runner.script' });
    }
  });

export const runnerConfig = z.discriminatedUnion('kind', [claudeCodeRunnerConfig, commandRunnerConfig, scriptedRunnerConfig], {
  error: (issue) =>
    issue.code === 'invalid_union' ? "runner.kind must be one of 'claude-code', 'command', 'scripted'" : undefined,
});

export type ClaudeCodeRunnerConfig = z.infer<typeof claudeCodeRunnerConfig>;
export type CommandRunnerConfig = z.infer<typeof commandRunnerConfig>;
export type ScriptedRunnerConfig = z.infer<typeof scriptedRunnerConfig>;
export type RunnerConfig = z.infer<typeof runnerConfig>;

/** A command name or prefix (`git`, `npm run`): words only, nothing a shell would read. */
const commandName = z
  .string()
  .regex(/^[A-Za-z0-9_.+\-/]+( [A-Za-z0-9_.+\-/:=]+)*$/, {
    error: (iss) => `permissions.allowed_commands: ${JSON.stringify(iss.input)} is not a plain command name (like git or npm run)`,
  });

const forbiddenPath = z
  .string()
  .min(1, 'permissions.forbidden_paths entries must not be empty')
  .refine((p) => !/[()\n\r\0]/.test(p), { error: 'permissions.forbidden_paths entries must not contain parentheses or newlines' });

/** `host`, `host:port` or `[v6]:port`: no scheme, path or wildcard, so the entry means one thing. */
const allowedHost = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?:[1-9]\d{0,4}))?$/, {
    error: (iss) => `permissions.network.allow: ${JSON.stringify(iss.input)} is not a host or host:port (like registry.npmjs.org)`,
  });

export const permissionsConfig = z.strictObject({
  /**
   * Commands the agent may run. Absent: whatever `tools_allowed` says. A list (even empty):
   * only these, as `Bash(cmd)` / `Bash(cmd *)` rules for claude-code.
   */
  allowed_commands: z.array(commandName, { error: 'permissions.allowed_commands must be a list of command names' }).optional(),
  /** Absolute (`/etc`), home (`~/.ssh`) or workdir-relative (`.env`) paths the agent must not read or write. */
  forbidden_paths: z.array(forbiddenPath, { error: 'permissions.forbidden_paths must be a list of paths' }).default([]),
  /**
   * `bwrap` (the default): the agent runs inside bubblewrap with an egress allow-list (see
   * sandbox.ts for what that isolates). `none` runs it as a plain child of the bot, which
   * then sees what the bot's user sees; start-up logs a warning for every such agent.
   */
  sandbox: z.enum(['none', 'bwrap'], { error: "permissions.sandbox must be 'none' or 'bwrap'" }).default('bwrap'),
  /** Hosts the sandboxed agent may reach besides the model API (package registries, say). */
  network: z
    .strictObject({
      allow: z.array(allowedHost, { error: 'permissions.network.allow must be a list of hosts' }).default([]),
    })
    .prefault({}),
});
/** Parsed permissions; `network` may be left out by code that builds one (no extra hosts). */
export type PermissionsConfig = Omit<z.infer<typeof permissionsConfig>, 'network'> & { network?: { allow: string[] } };

export const defaultPermissions = (): PermissionsConfig => permissionsConfig.parse({});
