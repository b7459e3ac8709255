/**
 * The "agent" of `doom evaluate`: the agent has already run, as a Claude Code subagent in a
 * person's own session, and its work is the uncommitted change in their checkout. This runner
 * carries that change into the run's worktree, so the executor commits, guards, pushes and
 * publishes it as it does any agent's, and everything after (pipeline, reward, tiers) is the
 * bot's own code. The person's checkout is only read.
 *
 * ```ts
 * const change = await workingTreeChange('/home/me/project'); // null: nothing to evaluate
 * const runner = new WorkingTreeRunner({ patch: change!.patch, transcript, summary });
 * ```
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from '../workspace/git.js';
import { emptyUsage, type Runner, type RunnerInput, type RunnerResult } from './runner.js';
import { StreamJsonParser } from './stream-json.js';

export interface WorkingTreeChange {
  /** The commit the change is on top of (the checkout's HEAD). */
  base: string;
  /** A binary diff from `base` to the working tree, untracked files included, ignored ones not. */
  patch: string;
  files: string[];
}

/**
 * Reads the checkout's change through a throw-away index, so the person's own staging area
 * is left as it was. Null when the working tree matches HEAD.
 */
export async function workingTreeChange(root: string): Promise<WorkingTreeChange | null> {
  const dir = await mkdtemp(join(tmpdir(), 'doom-index-'));
  try {
    const env = { GIT_INDEX_FILE: join(dir, 'index') };
    const base = await git(['rev-parse', 'HEAD'], { cwd: root });
    await git(['read-tree', base], { cwd: root, env });
    await git(['add', '--all'], { cwd: root, env });
    const files = (await git(['diff', '--cached', '--name-only', '--no-renames', base], { cwd: root, env })).split('\n').filter(Boolean);
    if (files.length === 0) return null;
    const patch = await git(['diff', '--cached', '--binary', '--no-renames', '--full-index', base], { cwd: root, env });
    return { base, patch: `${patch}\n`, files };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface WorkingTreeRunnerOptions {
  patch: string;
  /** The subagent's own transcript (Claude Code's JSONL), for its tool uses and usage; may be empty. */
  transcript: string;
  /** The subagent's closing words, for the merge request description. */
  summary?: string;
}

export class WorkingTreeRunner implements Runner {
  readonly kind = 'working-tree';

  constructor(private readonly options: WorkingTreeRunnerOptions) {}

  async run(input: RunnerInput): Promise<RunnerResult> {
    const { transcript, summary } = this.options;
    const parser = new StreamJsonParser();
    parser.push(transcript);
    parser.end();
    const usage = transcript === '' ? emptyUsage() : parser.usage;
    const dir = await mkdtemp(join(tmpdir(), 'doom-patch-'));
    try {
      const file = join(dir, 'change.patch');
      await writeFile(file, this.options.patch);
      await git(['apply', '--binary', '--whitespace=nowarn', file], { cwd: input.workdir });
      input.onUsage?.(usage);
      return { outcome: 'success', usage, transcript, ...(summary ? { summary } : {}) };
    } catch (error) {
      return { outcome: 'failed', usage, transcript, error: `the subagent's change could not be applied: ${(error as Error).message}` };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
