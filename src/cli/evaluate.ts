/** The CLI side of `doom init` and `doom evaluate` (see src/cli/init.ts, src/forges/local/evaluate.ts). */
import type { TaskType } from '../config/schema.js';
import { evaluateSubagent, evaluationTarget, parseSubagentStop } from '../forges/local/evaluate.js';
import type { Logger } from '../log.js';
import type { CliContext } from './context.js';
import { describeEvent } from './demo.js';
import { initRepository } from './init.js';
import { CliError } from './commands.js';

/** Reads all of stdin when something is piped in (Claude Code closes it after the JSON); a terminal gives nothing. */
export async function readPipedStdin(stream: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (stream.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

export async function init(dir: string, out: (text: string) => void): Promise<void> {
  const { root, written } = await initRepository(dir);
  out(`doom init wrote, in ${root}:`);
  written.forEach((p) => out(`  ${p}`));
  out('');
  out('Next:');
  out('  1. check the test command (and add coverage, lint, security) in .claude/doom-rlvr.toml');
  out('  2. commit .claude/ (its scoreboard/ is ignored): a change under .claude/ is a protected path, so an uncommitted one is refused');
  out("  3. put `doom` on the PATH Claude Code's hooks see (npm install -g doom-rlvr, or npm link in a checkout)");
  out('  4. ask Claude Code to use a subagent, e.g. "use agent-bugfix-junior to fix …": when it stops, its change is scored');
}

export interface EvaluateOptions {
  taskId?: string;
  agentName?: string;
  type?: TaskType;
  repo?: string;
}

export async function evaluate(ctx: CliContext, log: Logger, opts: EvaluateOptions, stdin: string, out: (text: string) => void): Promise<void> {
  const input = parseSubagentStop(stdin);
  const target = evaluationTarget(opts, input);
  const dashboard = `http://127.0.0.1:${ctx.env.port ?? ctx.loaded.config.coordinator.port}/`;
  out(`SubagentStop: ${target.agent} on task ${target.key}`);
  const result = await evaluateSubagent(
    { core: ctx, loaded: ctx.loaded, databaseUrl: ctx.env.databaseUrl, log },
    { ...target, repo: opts.repo, type: opts.type },
    input,
    (e) => describeEvent(e, dashboard).forEach(out),
  );
  if (result.kind !== 'evaluated') return out(`not evaluated: ${result.reason}`);
  const review = `doom --config ${ctx.loaded.configPath} --database ${ctx.env.databaseUrl} review approve|request-changes|merge|close ${target.key}`;
  if (result.reward === null) throw new CliError(`no reward was recorded for task ${target.key} (${result.task.status}): see doom logs --task ${target.key}`);
  out(`review it (the reward is final once the branch is merged or closed): ${review}`);
}
