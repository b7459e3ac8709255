/**
 * The pipeline's CLI: `doom schema export` (the contracts as JSON Schema, for other tools)
 * and `doom candidates <task>` (every candidate of a task, winners and losers, with what
 * the bot's checks said). The pipeline's line of `doom status` is in pipeline-status.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { exportSchemas } from '../pipeline/schemas.js';
import { candidatesOfTask, headToHead, latestExecution } from '../store/pipeline.js';
import type { CliContext } from './context.js';
import { table } from './format.js';
import { resolveTask } from './local.js';
import { ExpectedError } from '../errors.js';

class PipelineCliError extends ExpectedError {}

/** Writes `<Name>.schema.json` for each schema into `dir`, or returns them all as one JSON document. */
export async function schemaExport(dir: string | undefined): Promise<string> {
  const schemas = exportSchemas();
  if (dir === undefined) return JSON.stringify(schemas, null, 2);
  const target = resolve(dir);
  try {
    await mkdir(target, { recursive: true });
    for (const [name, schema] of Object.entries(schemas)) await writeFile(join(target, `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`);
  } catch (error) {
    throw new PipelineCliError(`cannot write the schemas to ${target}: ${(error as Error).message}`);
  }
  return Object.keys(schemas).map((n) => `wrote ${join(target, `${n}.schema.json`)}`).join('\n');
}

const verdict = (v: string | undefined): string => v ?? '-';

export async function candidates(ctx: CliContext, ref: string, format: string): Promise<string> {
  const taskId = await resolveTask(ctx, ref);
  if (taskId === null) throw new PipelineCliError(`task ${ref} does not exist`);
  const db = ctx.store.db;
  const [rows, pairs, state] = await Promise.all([candidatesOfTask(db, taskId), headToHead(db, taskId), latestExecution(db, taskId)]);
  if (format === 'json') {
    return JSON.stringify({ task: taskId, candidates: rows.map(({ transcript: _t, ...r }) => r), pairs, execution: state }, null, 2);
  }
  if (rows.length === 0) return `task ${taskId} has no candidates${state ? '' : ' (the pipeline has not run it)'}`;
  const lines = [
    table(
      ['attempt', '#', 'agent', 'variant', 'run', 'oracle', 'suite', 'lint', 'guards', 'diff', 'cost', 'cluster', 'commit', ''],
      rows.map((r) => [
        r.assignment_id,
        r.idx + 1,
        r.agent_name,
        r.variant,
        r.outcome,
        verdict(r.checks?.oracle),
        verdict(r.checks?.suite),
        verdict(r.checks?.lint),
        verdict(r.checks?.guards),
        r.diff_lines,
        `$${r.cost_usd.toFixed(4)}`,
        r.cluster === null ? null : r.cluster + 1,
        r.commit_sha?.slice(0, 10) ?? null,
        r.selected ? 'winner' : '',
      ]),
    ),
  ];
  if (pairs.length > 0) lines.push('', 'head to head:', ...pairs.map((p) => `  ${p.winner_agent} (#${p.winner_idx + 1}) beat ${p.loser_agent} (#${p.loser_idx + 1}) on ${p.reason}`));
  if (state?.implementation?.reasons.length) lines.push('', 'why:', ...state.implementation.reasons.map((r) => `  ${r}`));
  lines.push('', 'the patches: doom candidates --format json; each commit is kept in the mirror under refs/doom/candidates/<attempt>/<#>');
  return lines.join('\n');
}

type Run = <T>(work: (ctx: CliContext) => Promise<T>) => Promise<T>;

/** Adds `schema export` and `candidates` to the program. */
export function registerPipelineCommands(program: Command, run: Run, out: (text: string) => void): void {
  program
    .command('schema')
    .description("the pipeline's contracts (Spec, Policy, Rubric, Implementation, ExecutionState)")
    .command('export')
    .description('write them as JSON Schema: one file per schema into --out, or one document to stdout')
    .option('--out <dir>', 'directory for <Name>.schema.json files')
    .action(async (opts: { out?: string }) => out(await schemaExport(opts.out)));
  program
    .command('candidates <task>')
    .description("a task's candidate patches (the pipeline's), winner and losers, with the bot's checks and the head-to-head outcomes")
    .option('--format <format>', 'table or json', 'table')
    .action((task: string, opts: { format: string }) => run(async (ctx) => out(await candidates(ctx, task, opts.format))));
}
