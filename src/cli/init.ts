/**
 * `doom init`: the seed's `.claude/` structure in a repository, so that a person using Claude
 * Code gets rewards for their own subagents. It writes the project config, sample agents (the
 * seed's `agent:` files for doom-rlvr and the matching Claude Code subagent definitions, one
 * name for both), and a Claude Code settings file whose `SubagentStop` hook runs
 * `doom evaluate`. It never overwrites: if any file it would write exists, it names them and
 * writes nothing.
 *
 * ```ts
 * const written = await initRepository('/home/me/project'); // ['.claude/doom-rlvr.toml', …]
 * ```
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { TaskType } from '../config/schema.js';
import { git } from '../workspace/git.js';
import { CliError } from './commands.js';

export interface InitFile {
  /** Relative to the repository's top level. */
  path: string;
  text: string;
}

/** Where `doom evaluate` keeps the project's store (and its mirror and worktrees): out of git. */
export const SCOREBOARD_DIR = '.claude/scoreboard';

/** Pure: the repository's own test command, guessed from the files at its top level. */
export function guessTestCommand(topLevel: readonly string[]): string[] {
  const has = (f: string) => topLevel.includes(f);
  if (has('package.json')) return ['npm', 'test'];
  if (has('pyproject.toml') || has('pytest.ini') || has('setup.py')) return ['python3', '-m', 'pytest'];
  if (has('go.mod')) return ['go', 'test', './...'];
  if (has('Cargo.toml')) return ['cargo', 'test'];
  if (has('Makefile')) return ['make', 'test'];
  return ['npm', 'test'];
}

/** TOML basic strings take JSON's escapes for everything a path holds. */
const tomlString = (s: string): string => JSON.stringify(s);
const tomlArray = (items: readonly string[]): string => `[${items.map(tomlString).join(', ')}]`;

function configToml(root: string, test: readonly string[]): string {
  const scoreboard = join(root, SCOREBOARD_DIR);
  return `# doom-rlvr for this repository, written by \`doom init\`. Every key has a default; these
# are the seed's values. \`doom evaluate\` (the SubagentStop hook in .claude/settings.json) reads
# this file and the agents in .claude/agents/.

[coordinator]
port = 8080
max_concurrent_agents = 10
task_timeout_default_ms = 300000

[evaluator.weights]
test_coverage = 0.3
lint_score = 0.2
security_scan = 0.2
complexity = 0.1
ci_status = 0.1
review_feedback = 0.1

[scoreboard]
retention_days = 90
compact_on_startup = true

[tiers]
promotion_threshold = 4.0
demotion_threshold = 2.0
suspension_threshold = 0.0
evaluation_window = 10  # last N tasks

[executor]
# The mirror and the worktrees an evaluation uses live beside the store, ignored by git.
mirror_dir = ${tomlString(join(scoreboard, 'mirrors'))}
workspace_dir = ${tomlString(join(scoreboard, 'workspaces'))}

# This repository's own commands (argv, no shell): the pipeline \`doom evaluate\` runs on the
# commit a subagent's change makes, and on the commit it started from. \`test\` exiting 0 is CI
# passing; the others give the coverage, lint and security reports.
[repositories.${tomlString(root)}.commands]
test = { run = ${tomlArray(test)} }
# coverage = { run = ["npx", "c8", "--reporter=lcov", "npm", "test"], report = "coverage/lcov.info" }
# lint     = { run = ["npx", "eslint", "-f", "json", "."] }
# security = { run = ["semgrep", "--sarif", "."] }
`;
}

/** The seed's `.claude/agents/template.yml`; the agent loader skips it by name. */
const TEMPLATE = `# The seed's agent template: copy it to <name>.yml (the file name is the agent's name) and
# fill in the placeholders. doom-rlvr does not load this file.
agent:
  name: "agent-{{type}}-{{tier}}"
  tier: "{{tier}}"
  specializations:
    - "{{type}}"
  performance:
    rolling_avg_reward: 0
    total_tasks: 0
    last_10_rewards: []
  context:
    system_prompt: |
      You are a {{tier}}-level Claude Code agent specialized in {{type}} tasks.
      Focus on code quality, test coverage, and security best practices.
      {{custom_instructions}}
    tools_allowed:
      - Read
      - Edit
      - Bash
      - Grep
      - WebSearch
    max_context_tokens: 50000
`;

interface SampleAgent {
  type: TaskType;
  does: string;
  instructions: string;
}

const SAMPLES: SampleAgent[] = [
  { type: 'bugfix', does: 'Fixes bugs', instructions: 'Reproduce the bug with a failing test first, then make the smallest change that fixes it.' },
  { type: 'feature', does: 'Builds features', instructions: 'Write the tests with the feature, and keep the public API small.' },
  { type: 'refactor', does: 'Refactors code without changing behaviour', instructions: 'Keep behaviour identical: the existing tests must pass unchanged.' },
  { type: 'security', does: 'Fixes security problems', instructions: 'Remove the vulnerability at its root and add a test that shows it is gone.' },
];
const TOOLS = ['Read', 'Edit', 'Bash', 'Grep', 'Glob'];

const systemPrompt = (s: SampleAgent): string =>
  `You are a junior-level Claude Code agent specialized in ${s.type} tasks.\nFocus on code quality, test coverage, and security best practices.\n${s.instructions}\n`;

function agentYaml(s: SampleAgent): string {
  return `agent:
  name: agent-${s.type}-junior
  tier: junior
  specializations:
    - ${s.type}
  performance:
    rolling_avg_reward: 0
    total_tasks: 0
    last_10_rewards: []
  context:
    system_prompt: |
      You are a {{tier}}-level Claude Code agent specialized in {{type}} tasks.
      Focus on code quality, test coverage, and security best practices.
      {{custom_instructions}}
    custom_instructions: ${JSON.stringify(s.instructions)}
    tools_allowed: [${TOOLS.join(', ')}]
    max_context_tokens: 50000
  runner:
    kind: claude-code
    max_turns: 20
`;
}

/** The same agent as a Claude Code subagent: its name is what SubagentStop reports as `agent_type`. */
function subagentMarkdown(s: SampleAgent): string {
  return `---
name: agent-${s.type}-junior
description: ${s.does}. Use it for ${s.type} tasks; doom-rlvr scores its change when it stops.
tools: ${TOOLS.join(', ')}
---
${systemPrompt(s)}`;
}

/**
 * The hook runs in a shell with CLAUDE_PROJECT_DIR set. The task id and agent name come from
 * DOOM_TASK_ID and DOOM_AGENT_NAME when set; empty, `doom evaluate` takes them from the hook's
 * input (the session and the subagent's name).
 */
export const HOOK_COMMAND = [
  'doom',
  '--config "$CLAUDE_PROJECT_DIR/.claude/doom-rlvr.toml"',
  `--database "$CLAUDE_PROJECT_DIR/${SCOREBOARD_DIR}/doom.db"`,
  'evaluate --task-id "${DOOM_TASK_ID:-}" --agent-name "${DOOM_AGENT_NAME:-}"',
].join(' ');

function settingsJson(): string {
  const settings = {
    hooks: {
      SubagentStop: [
        {
          // Only doom-rlvr's agents: built-in subagents (Explore, Plan…) are not scored.
          matcher: SAMPLES.map((s) => `agent-${s.type}-junior`).join('|'),
          hooks: [{ type: 'command', command: HOOK_COMMAND, timeout: 900 }],
        },
      ],
    },
  };
  return `${JSON.stringify(settings, null, 2)}\n`;
}

/** Pure: every file `doom init` writes in the repository at `root`. */
export function initFiles(root: string, test: readonly string[]): InitFile[] {
  return [
    { path: '.claude/doom-rlvr.toml', text: configToml(root, test) },
    { path: '.claude/settings.json', text: settingsJson() },
    { path: '.claude/agents/template.yml', text: TEMPLATE },
    ...SAMPLES.flatMap((s) => [
      { path: `.claude/agents/agent-${s.type}-junior.yml`, text: agentYaml(s) },
      { path: `.claude/agents/agent-${s.type}-junior.md`, text: subagentMarkdown(s) },
    ]),
    { path: `${SCOREBOARD_DIR}/.gitignore`, text: "# doom-rlvr's store, mirror and worktrees for this repository (this file is kept)\n*\n!.gitignore\n" },
  ];
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

/** Writes the files into the repository containing `dir`; returns their paths. */
export async function initRepository(dir: string): Promise<{ root: string; written: string[] }> {
  const root = await git(['rev-parse', '--show-toplevel'], { cwd: resolve(dir) }).catch(() => {
    throw new CliError(`${resolve(dir)} is not inside a git repository: run doom init in the repository`);
  });
  const topLevel = ['package.json', 'pyproject.toml', 'pytest.ini', 'setup.py', 'go.mod', 'Cargo.toml', 'Makefile'].filter((f) => existsSync(join(root, f)));
  const files = initFiles(root, guessTestCommand(topLevel));
  const taken: string[] = [];
  for (const f of files) if (await exists(join(root, f.path))) taken.push(f.path);
  if (taken.length > 0) {
    throw new CliError(`doom init would overwrite ${taken.join(', ')} in ${root}: nothing was written; move them aside first (or merge by hand)`);
  }
  for (const f of files) {
    await mkdir(dirname(join(root, f.path)), { recursive: true });
    // `wx`: a file that appeared since the check is not overwritten either.
    await writeFile(join(root, f.path), f.text, { flag: 'wx' });
  }
  return { root, written: files.map((f) => f.path) };
}
