/**
 * `doom demo`: the whole loop on a sample repository in a temp directory, with no account.
 * A repository whose test fails, a task to fix it, an agent (scripted, or Claude Code when
 * ANTHROPIC_API_KEY is set) on a branch, the repository's own commands as the pipeline, a
 * review and a merge, and the reward and tier change they cause: the bot's own code
 * throughout, with the `local` forge. The store stays behind for the dashboard.
 */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'smol-toml';
import { botPlaces, openCore } from '../app.js';
import { readEnvironment } from '../config/env.js';
import { loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { LocalExecutor } from '../executor/local.js';
import { withHookEvents } from '../executor/hooks.js';
import { LocalLoop, type LoopEvent } from '../forges/local/loop.js';
import { createSampleRepository, sampleCommands } from '../forges/local/sample.js';
import type { Logger } from '../log.js';
import { syncAgents } from '../store/agents.js';
import { CliError } from './commands.js';
import { num } from './format.js';
import type { Progress } from './progress.js';

export interface DemoOptions {
  dir?: string;
  log: Logger;
  progress: Progress;
  /** Claude Code instead of the scripted agent (the default: when ANTHROPIC_API_KEY is set). */
  claude?: boolean;
}

export interface DemoResult {
  dir: string;
  repo: string;
  databaseUrl: string;
  taskId: number;
  branch: string | null;
}

const AGENT = 'agent-bugfix-junior';

/**
 * The demo runs one task, and one good reward is little evidence: at the default confidence
 * (1.645 standard errors) a junior needs about four rewards like it to be promoted. The demo's
 * own config reads tiers at this confidence instead, so its one task shows a tier change, and
 * says so.
 */
export const DEMO_CONFIDENCE = 0.5;

function agentYaml(fixPatch: string, claude: boolean): string {
  const runner = claude
    ? '  runner:\n    kind: claude-code\n    max_turns: 20\n'
    : `  runner:\n    kind: scripted\n    patch: |\n${fixPatch.split('\n').map((l) => `      ${l}`).join('\n')}\n`;
  return [
    'agent:',
    `  name: ${AGENT}`,
    '  tier: junior',
    '  specializations: [bugfix]',
    '  context:',
    '    system_prompt: |',
    '      You are a {{tier}}-level Claude Code agent specialized in {{type}} tasks.',
    '      Fix the bug the failing test shows; keep the change small.',
    '    tools_allowed: [Read, Edit, Bash, Grep, Glob]',
    runner.trimEnd(),
    '',
  ].join('\n');
}

/** Pure: the lines that tell a person what one loop event means. */
export function describeEvent(e: LoopEvent, dashboard: string): string[] {
  switch (e.kind) {
    case 'task':
      return [`task ${e.task.id} (${e.task.type}, ${e.task.priority}): ${e.task.title}`];
    case 'assigned':
      return [`assigned to ${e.task.assigned_agent ?? '-'}`];
    case 'run':
      return [];
    case 'branch':
      return [`branch ${e.branch} at ${e.sha.slice(0, 10)}`];
    case 'failed':
      return [`the run did not finish: ${e.error}`];
    case 'pipeline':
      return [
        `pipeline on ${e.ref}: ${e.status}`,
        ...e.steps.map((s) => `  ${s.name.padEnd(8)} exit ${s.exitCode ?? '-'}${s.tests ? `  (${s.tests.pass} passed, ${s.tests.fail} failed)` : ''}${s.error ? `  ${s.error}` : ''}`),
      ];
    case 'reward':
      return [
        `${e.rewardKind} reward for ${e.agent}: ${num(e.reward)}`,
        ...Object.entries(e.components).map(([k, v]) => `  ${k.padEnd(22)} ${num(v)}`),
        ...Object.entries(e.missing).map(([k, why]) => `  (${k}: default used, ${why})`),
      ];
    case 'tier':
      return [`tier change: ${e.change.agent_name} ${e.change.from_tier} → ${e.change.to_tier} (${e.change.reason})`, `dashboard: ${dashboard}`];
    case 'note':
      return [e.text];
  }
}

async function prepare(dirOption: string | undefined): Promise<string> {
  if (dirOption === undefined) return mkdtemp(join(tmpdir(), 'doom-demo-'));
  const dir = resolve(dirOption);
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new CliError(`${dir} is not empty: give doom demo an empty or new --dir`);
  return dir;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { progress, log } = options;
  const claude = options.claude ?? Boolean(process.env.ANTHROPIC_API_KEY);
  const dir = await prepare(options.dir);
  const repo = join(dir, 'sample');
  const configDir = join(dir, 'config');
  await mkdir(repo, { recursive: true });
  await mkdir(join(configDir, 'agents'), { recursive: true });
  const { fixPatch } = await progress.step(`sample repository with a failing test in ${repo}`, () => createSampleRepository(repo));

  const configPath = join(configDir, 'doom-rlvr.toml');
  await writeFile(
    configPath,
    stringify({
      executor: { mirror_dir: join(dir, 'mirrors'), workspace_dir: join(dir, 'workspaces') },
      tiers: { confidence: DEMO_CONFIDENCE },
      repositories: { [repo]: { commands: sampleCommands } },
    }),
  );
  await writeFile(join(configDir, 'agents', `${AGENT}.yml`), agentYaml(fixPatch, claude));
  const databaseUrl = join(dir, 'doom.db');
  const env = { ...readEnvironment(), databaseUrl };
  const loaded = loadConfig(configPath);
  const core = await openCore({ env, loaded, log });
  const dashboard = `http://127.0.0.1:${env.port ?? loaded.config.coordinator.port}/`;
  const print = (e: LoopEvent) => describeEvent(e, dashboard).forEach((l) => progress.line(l));
  try {
    await syncAgents(core.store.db, loaded.agents);
    const { config } = loaded;
    const executor = withHookEvents(new LocalExecutor({
      mirrorDir: resolve(config.executor.mirror_dir),
      workspaceDir: resolve(config.executor.workspace_dir),
      mirrorDiskBudgetBytes: config.executor.mirror_disk_budget_mb * 1024 * 1024,
      capacity: 1,
      sandbox: { hidden: botPlaces(databaseUrl, loaded) },
    }), core.store.db, log);
    const loop = new LocalLoop({ core, config, log, executor });
    const { task } = await loop.createTask({
      repo,
      key: 'demo-001',
      type: 'bugfix',
      title: 'add() subtracts',
      description: 'add() subtracts instead of adding: `node --test` fails. Make the tests pass.',
    });
    print({ kind: 'task', task });
    if (task.status === 'pending') throw new CliError(`the demo task stays pending: ${task.pending_reason ?? 'no agent'}`);
    print({ kind: 'assigned', task });
    const done = await progress.step(`${claude ? 'Claude Code' : 'the scripted agent'} fixes it on a branch, then the pipeline runs`, () => loop.run(task.id, print));
    if (done.status !== 'completed') return { dir, repo, databaseUrl, taskId: task.id, branch: done.branch };
    await progress.step('review: approve', () => loop.review(task.id, 'approve', print));
    await progress.step('review: merge', () => loop.review(task.id, 'merge', print));
    progress.line('');
    progress.line(
      `(the demo's config reads tiers at confidence ${DEMO_CONFIDENCE}, so one task can move one; the default, ${configSchema.parse({}).tiers.confidence}, wants a few more rewards)`,
    );
    progress.line(`the demo store stays in ${databaseUrl}; to see it in the dashboard:`);
    progress.line(`  DATABASE_URL=${databaseUrl} npm start   # then open ${dashboard}`);
    progress.line(`or ask the CLI: npx doom --database ${databaseUrl} scores --agent ${AGENT}`);
    return { dir, repo, databaseUrl, taskId: task.id, branch: done.branch };
  } finally {
    await core.store.close();
  }
}
