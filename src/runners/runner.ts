/**
 * The seam to the agent itself. A runner edits files in a prepared workspace and reports
 * what it spent; it never commits or pushes (the bot does, with its own credentials).
 */

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  costUsd: number;
  turns: number;
}

export const emptyUsage = (): Usage => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  costUsd: 0,
  turns: 0,
});

/** Tokens counted against a task's `max_tokens` budget. */
export const tokensUsed = (u: Usage): number =>
  u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheCreationTokens;

export interface RunnerInput {
  /** The git worktree the agent works in; its current directory. */
  workdir: string;
  /** The task prompt (already built and sanitized). */
  prompt: string;
  /** The agent's system prompt, appended to the runner's own. */
  systemPrompt: string;
  toolsAllowed: string[];
  maxTurns: number;
  /** Token budget: a run that passes it is stopped with outcome `token_limit`. */
  maxTokens: number;
  /**
   * Dollar budget of this run (the pipeline's phase budget): claude-code passes it as
   * `--max-budget-usd`; other runners are checked against it after the fact.
   */
  maxBudgetUsd?: number;
  /** The whole environment the agent process gets: no bot credentials in it. */
  env: Record<string, string>;
  /** Aborted on timeout or cancellation; the runner kills its process and returns. */
  signal: AbortSignal;
  /** Called whenever usage grows, so the coordinator can show progress. */
  onUsage?: (usage: Usage) => void;
}

export type RunOutcome = 'success' | 'failed' | 'token_limit' | 'timeout' | 'cancelled';

/** The stops by budget: the bot keeps the agent's work on the task's branch for the escalated run. */
export type BudgetStop = Extract<RunOutcome, 'timeout' | 'token_limit'>;

export const isBudgetStop = (outcome: RunOutcome): outcome is BudgetStop => outcome === 'timeout' || outcome === 'token_limit';

export interface RunnerResult {
  outcome: RunOutcome;
  usage: Usage;
  /** What the agent said and did, one JSON object per line where the runner has them. */
  transcript: string;
  error?: string;
  /** The agent's own closing words, for the merge request description. */
  summary?: string;
}

export interface Runner {
  readonly kind: string;
  run(input: RunnerInput): Promise<RunnerResult>;
}
