/**
 * Which finished pipelines are a merge request's, and what they say together. Pure: the
 * evaluator asks, then reads what the answer tells it to read.
 *
 * - A pipeline is the MR's when it ran on the MR's head commit AND for the MR: the forge
 *   names the MR (GitLab's merge request pipelines, GitHub's `pull_requests`), or it ran on
 *   the MR's source branch. The target branch's pipeline on the same commit (after a
 *   fast-forward merge) is not: it would compare the change's coverage with itself. A
 *   commit status names no branch; it is matched by commit.
 * - Each CI sequence keeps its own latest verdict: workflow runs, each App's check suites,
 *   each status context, GitLab pipelines. Ids are compared within a sequence only.
 * - Only workflow runs and GitLab pipelines have reports to read; the others give a verdict.
 *
 * ```ts
 * const match = matchPipeline({ headSha, branch, number: 2 }, event);
 * if (match.kind === 'ignore') return;
 * const step = recordVerdict(stored.verdicts, event);
 * if (step.kind === 'record') status = combinedStatus(step.verdicts);
 * ```
 */
import type { PipelineEvent, PipelineOrigin } from '../forges/event.js';
import type { PipelineSignals } from './components.js';

export type PipelineStatus = PipelineSignals['status'];

export interface TaskMergeRequest {
  headSha: string | null;
  /** The MR's source branch. */
  branch: string | null;
  number: number | null;
}

export type PipelineMatch = { kind: 'match' } | { kind: 'ignore'; why: string };

export function matchPipeline(mr: TaskMergeRequest, event: Pick<PipelineEvent, 'sha' | 'ref' | 'origin' | 'mergeRequestNumbers'>): PipelineMatch {
  if (mr.number === null || mr.headSha === null) return { kind: 'ignore', why: 'the task has no merge request yet' };
  if (event.sha !== mr.headSha) return { kind: 'ignore', why: `commit ${event.sha} is not the merge request's head` };
  if (event.origin.kind === 'commit_status') return { kind: 'match' };
  if (event.mergeRequestNumbers.includes(mr.number)) return { kind: 'match' };
  // GitLab's merge request pipelines run on `refs/merge-requests/<iid>/head`.
  if (event.ref === mr.branch || event.ref === `refs/merge-requests/${mr.number}/head`) return { kind: 'match' };
  return { kind: 'ignore', why: `a pipeline of ${event.ref || 'an unknown ref'}, not of the merge request` };
}

/** The CI sequence an event's id counts in. */
export function sequenceOf(origin: PipelineOrigin): string {
  switch (origin.kind) {
    case 'workflow_run':
      return 'workflow_run';
    case 'check_suite':
      return `check_suite:${origin.app}`;
    case 'commit_status':
      return `status:${origin.context}`;
    case 'gitlab_pipeline':
      return 'pipeline';
    case 'local':
      return 'local';
  }
}

/** Whether the pipeline keeps report artifacts the forge's `report()` can read. */
export function carriesReports(origin: PipelineOrigin): boolean {
  return origin.kind === 'workflow_run' || origin.kind === 'gitlab_pipeline' || origin.kind === 'local';
}

export interface Verdict {
  id: number;
  status: PipelineStatus;
}

/** The latest verdict of each sequence, for one head commit. */
export type Verdicts = Record<string, Verdict>;

export type VerdictStep =
  | { kind: 'stale'; why: string }
  | { kind: 'record'; verdicts: Verdicts; readReports: boolean };

export function recordVerdict(verdicts: Verdicts, event: Pick<PipelineEvent, 'origin' | 'pipelineId' | 'status'>): VerdictStep {
  const sequence = sequenceOf(event.origin);
  const known = Object.hasOwn(verdicts, sequence) ? verdicts[sequence] : undefined;
  if (known && known.id > event.pipelineId) return { kind: 'stale', why: `${sequence} ${event.pipelineId} is older than ${known.id}` };
  if (known && known.id === event.pipelineId && known.status === event.status) {
    return { kind: 'stale', why: `${sequence} ${event.pipelineId} was already read` };
  }
  return {
    kind: 'record',
    verdicts: { ...verdicts, [sequence]: { id: event.pipelineId, status: event.status } },
    readReports: carriesReports(event.origin),
  };
}

/** The newest (highest id) run of each CI sequence, as the forge lists a commit's runs. */
export function newestPerSequence<R extends Pick<PipelineEvent, 'origin' | 'pipelineId'>>(runs: readonly R[]): R[] {
  const newest = new Map<string, R>();
  for (const run of runs) {
    const sequence = sequenceOf(run.origin);
    const known = newest.get(sequence);
    if (!known || known.pipelineId < run.pipelineId) newest.set(sequence, run);
  }
  return [...newest.values()];
}

/**
 * What CI says as a whole: failed or canceled if any sequence says so, success if at least
 * one succeeded and the rest passed (neutral and skipped do not block, as on GitHub), else
 * the one verdict there is (a lone neutral or skipped is not a pass).
 */
export function combinedStatus(verdicts: Verdicts): PipelineStatus {
  const all = Object.values(verdicts).map((v) => v.status);
  for (const blocking of ['failed', 'canceled'] as const) if (all.includes(blocking)) return blocking;
  if (all.includes('success')) return 'success';
  return all.includes('neutral') ? 'neutral' : 'skipped';
}
