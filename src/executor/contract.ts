/**
 * The run contract: what the coordinator hands an executor and what it gets back. A local
 * process pool implements it now; a Kubernetes Job per run can later, without the
 * coordinator knowing where a run happens.
 */
import type { PermissionsConfig, RunnerConfig } from '../runners/config.js';
import type { BudgetStop, RunOutcome, Usage } from '../runners/runner.js';
import type { GuardFinding, ProtectedChangeMode } from '../policy/guards.js';
import type { GitCredential } from '../workspace/git.js';
import type { RoundKind } from '../store/schema.js';
import type { RoundInput } from '../tasks/rounds.js';

export interface RunRequest {
  /** The assignment this run belongs to. */
  runId: number;
  task: {
    id: number;
    type: string;
    priority: string;
    title: string;
    description: string;
    tags: string[];
    issueUrl: string;
    maxTokens: number;
    /** Dollars the run may spend; absent or null: tokens only. */
    maxUsd?: number | null;
    timeoutMs: number;
  };
  agent: {
    name: string;
    tier: string;
    /** Rendered: tier, type and custom instructions filled in. */
    systemPrompt: string;
    toolsAllowed: string[];
    runner: RunnerConfig;
    permissions: PermissionsConfig;
  };
  repository: {
    forge: string;
    fullName: string;
    cloneUrl: string;
    defaultBranch: string;
  };
  branch: string;
  /**
   * Work an earlier run of this task kept on `branch` when it ran out of time or tokens: this
   * run starts from the branch (when it still holds that commit) instead of the default branch.
   */
  resume?: { sha: string; stop: BudgetStop };
  /**
   * Set for a round of a published attempt (a revision, a CI fix): the run starts from the
   * branch's head on the remote (the merge request as it is, a person's commits included) and
   * its commit goes on top, so the push is a fast-forward and never rewrites anyone's work.
   */
  round?: { kind: RoundKind; round: number; maxRounds: number; feedback: RoundInput };
  /** For the bot's own fetch and push; never given to the agent. */
  credential: () => Promise<GitCredential>;
  author: { name: string; email: string };
  /** The reward-hacking guards for this repository: checked on the agent's change before anything is committed. */
  policy: { protectedPaths: string[]; onProtectedChange: ProtectedChangeMode };
}

/**
 * Where a failed run failed, for the short public reason (tasks/failure.ts); the raw error
 * (command lines, paths, hosts) stays in the run's row and the audit log.
 */
export type RunFailure =
  | { stage: 'workspace' }
  | { stage: 'agent' }
  | { stage: 'publish' }
  | { stage: 'guard'; files: string[] }
  /** The pipeline ended without a change to publish; `reason` is the bot's own words ("could not reproduce …"). */
  | { stage: 'pipeline'; reason: string };

export interface RunResult {
  outcome: RunOutcome;
  usage: Usage;
  /** The agent's transcript (stream-json lines, or stdout/stderr). */
  transcript: string;
  error?: string;
  summary?: string;
  /**
   * The commit the bot pushed: the merge request's head on success, the work kept on the
   * branch on a timeout or token limit; null when there is none.
   */
  commitSha: string | null;
  /** Files the commit changed, for the MR description. */
  changedFiles: string[];
  /** A round's own change: the head it built on and the files its commit changed. */
  round?: { baseSha: string; files: string[] };
  /** What the guards flagged in the pushed change (absent or empty: nothing); the MR is labeled and says so. */
  guards?: GuardFinding[];
  /** Set when the outcome is not success and the executor knows where the run failed. */
  failure?: RunFailure;
  durationMs: number;
}

export interface Executor {
  /** Runs one request to its end; `signal` cancels it. Never rejects for agent failures. */
  run(request: RunRequest, signal: AbortSignal): Promise<RunResult>;
  /** How many runs may be in flight at once. */
  readonly capacity: number;
}
