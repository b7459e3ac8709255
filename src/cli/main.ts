/** The `doom` command line: the server and the operator's view of the same store. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { startApp } from '../app.js';
import { assignableTiers, taskType, tier as tierSchema, type TaskType } from '../config/schema.js';
import type { ReviewAction } from '../forges/local/loop.js';
import * as local from './local.js';
import { createLogger } from '../log.js';
import { ExpectedError } from '../errors.js';
import { isBusyError } from '../store/sqlite.js';
import { loadSettings, withContext, type GlobalOptions } from './context.js';
import * as commands from './commands.js';
import { CliError } from './commands.js';
import { runDemo } from './demo.js';
import * as evaluation from './evaluate.js';
import { readPipedStdin } from './evaluate.js';
import { createProgress } from './progress.js';
import { registerPipelineCommands } from './pipeline.js';

export { CliError };

/** Set once `serve` is up: the process then lives until a signal. */
let serving = false;


export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a directory');
  return value;
}

export interface CliIo {
  /** What `doom evaluate` reads as the hook's input; tests pass the JSON Claude Code would. */
  stdin?: () => Promise<string>;
}

export function buildProgram(out: (text: string) => void = (t) => process.stdout.write(`${t}\n`), io: CliIo = {}): Command {
  const program = new Command('doom')
    .description('doom-rlvr: labeled issues become tasks for AI coding agents, ranked by what CI and reviewers say')
    .option('-c, --config <path>', 'config file (default: $DOOM_CONFIG or config/doom-rlvr.toml)')
    .option('--database <url>', 'SQLite file or postgres:// URL (default: $DATABASE_URL or ./data/doom.db)')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => out(s.trimEnd()) });

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  // CLI output is the answer; logs go to stderr and only when something is wrong.
  const cliLog = createLogger({ level: 'warn', destination: process.stderr });
  const run = <T>(work: Parameters<typeof withContext<T>>[2]) => withContext(globals(), cliLog, work);
  const format = () => new Option('--format <format>', 'output format').choices(['table', 'json']).default('table');

  program
    .command('serve')
    .description('start the bot: webhook ingress, inbox processor and router')
    .option('-p, --port <port>', 'port (default: $PORT or coordinator.port)', (v) => {
      if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('expected a port number');
      return Number(v);
    })
    .action(async (opts: { port?: number }) => {
      const { env, loaded } = loadSettings(globals());
      const log = createLogger({ level: env.logLevel });
      const app = await startApp({ env, loaded, log, port: opts.port });
      serving = true;
      const stop = async (signal: string) => {
        log.info({ signal }, 'shutting down');
        await app.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });

  program
    .command('demo')
    .description('the whole loop on a sample repository in a temp directory: no account needed')
    .option('--dir <dir>', 'an empty or new directory to work in (default: a new temp directory)', nonEmpty)
    .option('--scripted', 'use the scripted agent even when ANTHROPIC_API_KEY is set')
    .action(async (opts: { dir?: string; scripted?: boolean }) => {
      const log = createLogger({ level: 'warn', destination: process.stderr });
      await runDemo({ dir: opts.dir, log, progress: createProgress(process.stdout), claude: opts.scripted ? false : undefined });
    });

  program
    .command('init')
    .description("write the seed's .claude/ structure in this repository: config, sample agents, and a SubagentStop hook that runs doom evaluate")
    .option('--dir <dir>', 'a directory inside the repository (default: the current directory)', nonEmpty, '.')
    .action((opts: { dir: string }) => evaluation.init(opts.dir, out));

  program
    .command('evaluate')
    .description("score a Claude Code subagent's change in this repository (what the SubagentStop hook runs; reads the hook's JSON on stdin)")
    .option('--task-id <id>', 'the local task the change is for (default: from the hook input, session-<id>)')
    .option('--agent-name <name>', "the agent whose change it is (default: the hook input's agent_type)")
    .addOption(new Option('--type <type>', "the task's type (default: the agent's first specialization)").choices(taskType.options))
    .option('--repo <path>', "the repository (default: the hook input's cwd, else the current directory)")
    .action((opts: { taskId?: string; agentName?: string; type?: TaskType; repo?: string }) =>
      run(async (ctx) => evaluation.evaluate(ctx, cliLog, opts, await (io.stdin ?? readPipedStdin)(), out)),
    );

  program
    .command('status')
    .description('tasks, agents and the webhook inbox at a glance')
    .addOption(format())
    .action((opts: { format: string }) => run(async (ctx) => out(await commands.status(ctx, opts.format))));

  program
    .command('assign')
    .description('route a pending task now or force it onto an agent; with --type, create a local task (e.g. test-001) and run it')
    .requiredOption('--task <id>', 'task number, or a local task id such as test-001')
    .option('--force-agent <name>', 'assign to this agent whatever the router would choose')
    .addOption(new Option('--type <type>', 'create a local task of this type in --repo').choices(taskType.options))
    .option('--description <text>', 'what the local task is about')
    .option('--file <task.yml>', "the local task's task.yml (the seed's schema)")
    .option('--repo <path>', 'the local repository (default: the current directory)', '.')
    .option('--no-run', 'create and route the local task, but do not run it')
    .action(
      (opts: { task: string; forceAgent?: string; type?: TaskType; description?: string; file?: string; repo: string; run: boolean }) =>
        run(async (ctx) => {
          const existing = await local.resolveTask(ctx, opts.task);
          if (existing !== null && opts.type === undefined && opts.file === undefined) {
            return out(await commands.assign(ctx, { task: existing, forceAgent: opts.forceAgent }));
          }
          if (opts.type === undefined && opts.file === undefined) {
            const numeric = local.parseTaskRef(opts.task).kind === 'number';
            throw new CliError(`task ${opts.task} does not exist${numeric ? '' : '; to create a local task give --type <type> or --file <task.yml>'}`);
          }
          await local.assignLocal(ctx, cliLog, opts, out);
        }),
    );

  program
    .command('review')
    .description("review a local task's branch: approve, request-changes, merge (into the branch it targets) or close")
    .argument('<action>', 'approve | request-changes | merge | close', (v) => {
      if (!['approve', 'request-changes', 'merge', 'close'].includes(v)) throw new InvalidArgumentError('expected approve, request-changes, merge or close');
      return v as ReviewAction;
    })
    .argument('<task>', 'task number or local task id')
    .action((action: ReviewAction, task: string) => run((ctx) => local.review(ctx, cliLog, action, task, out)));

  const agents = program.command('agents').description('the agent pool');
  agents
    .command('list')
    .description('agents with tier, rolling average and load')
    .addOption(new Option('--tier <tier>', 'only this tier').choices(tierSchema.options))
    .addOption(format())
    .action((opts: { tier?: string; format: string }) => run(async (ctx) => out(await commands.agentsList(ctx, opts))));
  agents
    .command('sync')
    .description('bring the store in line with the agent files (--config), and say what changed; only this and `serve` write the pool')
    .addOption(format())
    .action((opts: { format: string }) => run(async (ctx) => out(await commands.agentsSync(ctx, opts))));
  agents
    .command('promote <name>')
    .description('move an agent up a tier (a suspended one to junior); lifts a manual suspension')
    .addOption(new Option('--to <tier>', 'the tier to promote to').choices(assignableTiers))
    .option('--reason <text>', 'why, kept in tier history')
    .action((name: string, opts: { to?: string; reason?: string }) =>
      run(async (ctx) => out(await commands.promote(ctx, name, opts))),
    );
  agents
    .command('suspend <name>')
    .description('take an agent out of routing until an operator promotes it again')
    .option('--reason <text>', 'why, kept in tier history')
    .action((name: string, opts: { reason?: string }) => run(async (ctx) => out(await commands.suspend(ctx, name, opts))));

  // `scores` has its own action and an `export` subcommand. Commander checks a required
  // option of every command on the way to a subcommand, so `--agent` is checked here instead.
  const scores = program
    .command('scores')
    .description("an agent's rewards, newest last; `scores export` writes the scoreboard files")
    .option('--agent <name>', 'agent name (required without a subcommand)')
    .option('--last <n>', 'how many', positiveInt, 10)
    .addOption(format())
    .action((opts: { agent?: string; last: number; format: string }, command: Command) => {
      const { agent } = opts;
      if (agent === undefined) {
        command.error("error: required option '--agent <name>' not specified", { code: 'commander.missingMandatoryOptionValue' });
      }
      return run(async (ctx) => out(await commands.scores(ctx, { ...opts, agent })));
    });
  scores
    .command('export')
    .description('write rlvr.jsonl (every reward, one JSON line each) and agent_tiers.json')
    .option('--out-dir <dir>', 'directory to write them to (created if missing)', nonEmpty, './data/export')
    .action((opts: { outDir: string }) => run(async (ctx) => out(await commands.exportScores(ctx, opts))));

  const tiers = program.command('tiers').description('agent tiers');
  tiers
    .command('update')
    .description("recompute every agent's rolling average and tier now, as the nightly job does")
    .addOption(format())
    .action((opts: { format: string }) => run(async (ctx) => out(await commands.tiersUpdate(ctx, opts))));

  program
    .command('leaderboard')
    .description('agents ranked by a metric')
    .addOption(new Option('--metric <metric>', 'ranking').choices(['reward', 'tasks', 'success-rate']).default('reward'))
    .addOption(format())
    .action((opts: { metric: 'reward' | 'tasks' | 'success-rate'; format: string }) =>
      run(async (ctx) => out(await commands.leaderboard(ctx, opts))),
    );

  program
    .command('reward')
    .description('enter a reward by hand (all six components, each in its seed range)')
    .requiredOption('--task <id>', 'task id', positiveInt)
    .requiredOption('--agent <name>', 'agent name')
    .requiredOption(
      '--component <name=value...>',
      'test_coverage_delta, lint_score, security_scan_score, code_complexity_delta, ci_pipeline_status, review_feedback_score',
    )
    .action((opts: { task: number; agent: string; component: string[] }) =>
      run(async (ctx) => out(await commands.reward(ctx, opts))),
    );

  program
    .command('logs')
    .description("the audit log (every decision the bot made) and the runs' hook events")
    .option('--tail', 'keep printing new entries as they come (Ctrl-C to stop)')
    .option('--agent <name>', 'only entries about this agent')
    .option('--task <id>', "only this task: its runs with their errors, then its audit entries and its runs' hook events (TaskStart, PostToolUse, SubagentStop, TaskComplete)")
    .option('-n, --lines <n>', 'how many recent entries to show first', positiveInt, 20)
    .action((opts: { tail?: boolean; agent?: string; task?: string; lines: number }) =>
      run(async (ctx) => {
        const { task: id, ...rest } = opts;
        if (id === undefined) return commands.logs(ctx, rest, out);
        const task = await local.resolveTask(ctx, id);
        if (task === null) throw new CliError(`task ${id} does not exist`);
        return rest.tail ? commands.logs(ctx, { ...rest, task }, out) : commands.taskLogs(ctx, { ...rest, task }, out);
      }),
    );

  registerPipelineCommands(program, run, out);

  return program;
}

/** What to tell a person about an expected failure, or null for a bug (which keeps its stack). */
function expectedMessage(error: unknown): string | null {
  if (error instanceof ExpectedError) return error.message;
  if (isBusyError(error)) return 'the store is locked by another process; try again in a moment';
  return null;
}

/** Runs the CLI; resolves to the exit code, or null while `serve` keeps the process alive. */
export async function main(argv: string[], io: CliIo = {}): Promise<number | null> {
  const program = buildProgram(undefined, io);
  // Subcommands copy exitOverride only when created after it, so set it on every command:
  // otherwise a bad option on a subcommand calls process.exit instead of returning a code.
  const override = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv);
    return serving ? null : 0;
  } catch (error) {
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('commander.')) {
      // Commander has printed its own message (help, a bad flag).
      const exitCode = (error as { exitCode?: number }).exitCode ?? 1;
      return exitCode;
    }
    const message = expectedMessage(error);
    if (message !== null) {
      process.stderr.write(`doom: ${message}\n`);
      return 1;
    }
    throw error;
  }
}
