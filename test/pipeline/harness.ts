/**
 * The pipeline on the local forge, in process: a real sample repository on disk, a real
 * SQLite store, the real intake, router, coordinator and publish path, and command-runner
 * agents (node scripts, no model) that act on the step their prompt names.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore } from '../../src/app.js';
import { agentFileSchema, type AgentFile } from '../../src/agents/schema.js';
import { readEnvironment } from '../../src/config/env.js';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { LocalLoop } from '../../src/forges/local/loop.js';
import { createSampleRepository, sampleCommands } from '../../src/forges/local/sample.js';
import { createLogger } from '../../src/log.js';
import { PipelineExecutor } from '../../src/pipeline/engine.js';
import { syncAgents } from '../../src/store/agents.js';

/** What a scripted agent does at each step (node code run in its worktree; `usage` is what it reports spending). */
export interface AgentScript {
  spec?: string;
  tests?: string;
  implement?: string;
  repair?: string;
  usage?: { input_tokens: number; output_tokens: number; cost_usd: number };
}

export const FIX = `fs.writeFileSync('src/math.js', fs.readFileSync('src/math.js', 'utf8').replace('return a - b;', 'return a + b;'));`;
/** Wrong: add(2, 3) is 1, but the sample's own tests fail on the base as much as before. */
export const WRONG_FIX = `fs.writeFileSync('src/math.js', fs.readFileSync('src/math.js', 'utf8').replace('return a - b;', 'return Math.abs(a - b);'));`;
export const PROTECTED = `fs.mkdirSync('.github/workflows', { recursive: true }); fs.writeFileSync('.github/workflows/ci.yml', 'on: push\\njobs: {}\\n');`;
/** A test that reproduces the bug: it fails while add() subtracts. */
export const REPRODUCE = `fs.writeFileSync('test/issue.test.js', "import { test } from 'node:test';\\nimport assert from 'node:assert/strict';\\nimport { add } from '../src/math.js';\\ntest('add(2, 2) is 4', () => assert.equal(add(2, 2), 4));\\n");`;
/** A test that does not reproduce it: it passes on the buggy code too. */
export const NOT_REPRODUCE = `fs.writeFileSync('test/issue.test.js', "import { test } from 'node:test';\\nimport assert from 'node:assert/strict';\\nimport { add } from '../src/math.js';\\ntest('add(2, 0) is 2', () => assert.equal(add(2, 0), 2));\\n");`;

export function agentFile(name: string, script: AgentScript): AgentFile {
  const usage = JSON.stringify(script.usage ?? { input_tokens: 1000, output_tokens: 200, cost_usd: 0.01 });
  const code = [
    "const fs = require('fs');",
    "const prompt = fs.readFileSync(0, 'utf8');",
    "const step = (/DOOM-STEP: (\\w+)/.exec(prompt) || [])[1];",
    // What the repair prompt carried, for the transcript: the failing check, inside a quoted block.
    "if (step === 'repair') console.log('failing output quoted: ' + /<untrusted_issue_[0-9a-f]{16}>[\\s\\S]*### oracle failed[\\s\\S]*add\\(2, 2\\) is 4[\\s\\S]*<\\/untrusted_issue_/.test(prompt));",
    `fs.writeFileSync(process.argv[1], ${JSON.stringify(usage)});`,
    `if (step === 'spec') { ${script.spec ?? ''} }`,
    `if (step === 'tests') { ${script.tests ?? REPRODUCE} }`,
    `if (step === 'implement') { ${script.implement ?? ''} }`,
    `if (step === 'repair') { ${script.repair ?? script.implement ?? ''} }`,
    "if (step === 'fail') process.exit(1);",
  ].join('\n');
  return agentFileSchema.parse({
    agent: {
      name,
      tier: 'junior',
      specializations: ['bugfix'],
      context: { system_prompt: 'Fix the bug.' },
      runner: { kind: 'command', argv: ['node', '-e', code, '{usage_file}'], prompt_via: 'stdin' },
      permissions: { sandbox: 'none' },
    },
  }).agent;
}

export interface PipelineWorld {
  dir: string;
  repo: string;
  loop: LocalLoop;
  core: Awaited<ReturnType<typeof openCore>>;
  config: Config;
  /** Creates the local task bug-<n> with an acceptance list, and runs it to its end. */
  runTask(key: string, yaml?: string): Promise<number>;
  close(): Promise<void>;
}

export const ACCEPTANCE_YAML = 'task:\n  type: bugfix\n  description: add() subtracts\n  acceptance:\n    - add(2, 2) returns 4\n    - sum() of a list adds it up\n';

export async function pipelineWorld(agents: Record<string, AgentScript>, tweak: (c: ConfigInput) => void = () => undefined): Promise<PipelineWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'doom-pipeline-'));
  const repo = join(dir, 'repo');
  await mkdir(repo);
  await createSampleRepository(repo);
  const input: ConfigInput = {
    executor: { mirror_dir: join(dir, 'mirrors'), workspace_dir: join(dir, 'ws'), max_escalations: 0 },
    repositories: { [repo]: { commands: sampleCommands } },
    pipeline: { enabled: true, parallel: 1, policies: { P2: { candidates: 3, stopping: { stop_on_first_pass: false } } } },
  };
  tweak(input);
  const config = configSchema.parse(input);
  const files = Object.entries(agents).map(([name, script]) => agentFile(name, script));
  const log = createLogger({ level: process.env.DEBUG_PIPELINE ? 'debug' : 'silent', destination: process.stderr });
  const env = readEnvironment({ DATABASE_URL: join(dir, 'doom.db') });
  const core = await openCore({ env, loaded: { config, agents: files, configPath: join(dir, 'doom-rlvr.toml'), agentsDir: join(dir, 'agents') }, log });
  await syncAgents(core.store.db, files);
  const executor = new PipelineExecutor({
    db: core.store.db,
    config,
    forges: core.forges,
    log,
    mirrorDir: join(dir, 'mirrors'),
    workspaceDir: join(dir, 'ws'),
    mirrorDiskBudgetBytes: 1024 * 1024 * 1024,
    capacity: 1,
  });
  const loop = new LocalLoop({ core, config, log, executor });
  return {
    dir,
    repo,
    loop,
    core,
    config,
    async runTask(key, yaml = ACCEPTANCE_YAML) {
      const { task } = await loop.createTask({ repo, key, type: 'bugfix', taskYaml: yaml });
      await loop.run(task.id);
      return task.id;
    },
    async close() {
      await core.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
