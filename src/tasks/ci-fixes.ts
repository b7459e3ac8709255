/**
 * The CI loop: when `[ci_fix] enabled`, a failed pipeline of a bot merge request's head sends
 * the agent that opened it back to its branch with the failing job's log. GitLab's own list of
 * what goes wrong with automatic pipeline fixes (noise, runaway or recursive MRs, duplicates,
 * runner load) is what the guards answer:
 * - one run at a time per merge request, one fix per (MR, head commit) (store/transitions.ts
 *   `startRound` decides both in its transaction);
 * - at most `[ci_fix] max_rounds` fix runs per merge request, so a fix run's own red pipeline
 *   past the cap starts nothing; the MR is told once when the cap is reached;
 * - a job that fails in the target branch's latest pipeline too is not the change's doing: the
 *   MR is told, no fix run starts for it, and the evaluator does not count it (store/ci-failures.ts).
 * Only workflow runs and GitLab pipelines have job logs; a check suite or a commit status does not.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { PipelineEvent } from '../forges/event.js';
import type { CiJob, Forge, ForgeDirectory, RepoLocator } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { matchPipeline } from '../rewards/pipelines.js';
import { audit } from '../store/audit.js';
import { recordCiFailure } from '../store/ci-failures.js';
import type { Database, TaskRow } from '../store/schema.js';
import { taskAtHead } from '../store/tasks.js';
import { peekRound } from '../store/transitions.js';
import { ciLogExcerpt } from './ci-log.js';
import { inheritedMarker, inheritedText } from './round-reply.js';
import type { RoundRequests } from './round-requests.js';

export interface CiFixesDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'ci_fix'>;
  forges: ForgeDirectory;
  rounds: RoundRequests;
  log: Logger;
}

/** How much of a job log is read (its end): the excerpt is cut from this. */
const LOG_READ_BYTES = 4 * 1024 * 1024;

/** Pure: the failed jobs split into the change's own and those the target branch has too (same job name). */
export function splitFailures(failed: readonly string[], failedOnTarget: readonly string[]): { own: string[]; inherited: string[] } {
  const target = new Set(failedOnTarget);
  const unique = [...new Set(failed)];
  return { own: unique.filter((j) => !target.has(j)), inherited: unique.filter((j) => target.has(j)) };
}

export class CiFixes {
  constructor(private readonly deps: CiFixesDeps) {}

  async onPipeline(event: PipelineEvent): Promise<void> {
    if (!this.deps.config.ci_fix.enabled || event.status !== 'failed' || event.forge === 'local') return;
    if (event.origin.kind !== 'workflow_run' && event.origin.kind !== 'gitlab_pipeline') return;
    const task = await taskAtHead(this.deps.db, { forge: event.forge, repoId: event.repo.id }, event.sha);
    if (!task || matchPipeline({ headSha: task.head_sha, branch: task.branch, number: task.pr_number }, event).kind === 'ignore') return;
    const forge = await this.deps.forges.get(event.forge, event.installationId);
    if (!forge.failedJobs || !forge.jobLog) return;
    const repo = { id: task.repo_id, fullName: task.repo };
    const failed = await forge.failedJobs(repo, event.pipelineId);
    if (failed.length === 0) return;
    const target = await this.targetFailures(forge, repo, task, event);
    const split = splitFailures(failed.map((j) => j.name), target?.failed ?? []);
    await recordCiFailure(this.deps.db, {
      taskId: task.id,
      headSha: event.sha,
      pipelineId: event.pipelineId,
      failedJobs: failed.map((j) => j.name),
      inheritedJobs: split.inherited,
      targetPipelineId: target?.id ?? null,
    });
    if (split.own.length === 0 && target) return this.reportInherited(forge, task, event, split.inherited, target.id);
    const job = failed.find((j) => j.name === split.own[0])!;
    const triggerKey = `ci:${event.sha}`;
    // A round that would not start (capped, busy, a duplicate) needs no log: the runners are spared the download.
    const peek = await peekRound(this.deps.db, { taskId: task.id, kind: 'ci_fix', triggerKey, maxRounds: this.deps.rounds.maxRounds('ci_fix') });
    const excerpt = peek.kind === 'start' ? await this.jobExcerpt(forge, repo, job) : { name: job.name, url: job.url, excerpt: '' };
    await this.deps.rounds.request({
      task,
      forge,
      kind: 'ci_fix',
      triggerKey,
      feedback: { requestedBy: `pipeline ${event.pipelineId}`, comments: [], job: excerpt, inheritedJobs: split.inherited },
      actor: 'ci',
    });
  }

  /** The failed jobs of the target branch's latest finished pipeline (not this one: after a fast-forward they are the same). */
  private async targetFailures(forge: Forge, repo: RepoLocator, task: TaskRow, event: PipelineEvent): Promise<{ id: number; failed: string[] } | null> {
    const latest = await forge.latestPipeline?.(repo, task.default_branch);
    if (!latest || latest.id === event.pipelineId || latest.sha === event.sha) return null;
    return { id: latest.id, failed: (await forge.failedJobs!(repo, latest.id)).map((j) => j.name) };
  }

  private async jobExcerpt(forge: Forge, repo: RepoLocator, job: CiJob) {
    try {
      const log = await forge.jobLog!(repo, job.id, LOG_READ_BYTES);
      return { name: job.name, url: job.url, excerpt: ciLogExcerpt(log, this.deps.config.ci_fix.log_max_chars).text };
    } catch (error) {
      // The fix run still gets the job's name; the log may have expired or be withheld.
      this.deps.log.warn({ err: error, job: job.id }, 'the failed job log could not be read');
      return { name: job.name, url: job.url, excerpt: '(the job log could not be read)' };
    }
  }

  private async reportInherited(forge: Forge, task: TaskRow, event: PipelineEvent, jobs: string[], targetPipeline: number): Promise<void> {
    const thread = { repo: { id: task.repo_id, fullName: task.repo }, number: task.pr_number!, on: 'merge_request' as const };
    await forge.upsertComment(thread, inheritedMarker(task.id, event.sha), inheritedText({ jobs, targetBranch: task.default_branch, targetPipeline }));
    await audit(this.deps.db, { event: 'ci.inherited_failure', actor: 'ci', taskId: task.id, data: { pipeline: event.pipelineId, sha: event.sha, jobs, target_pipeline: targetPipeline } });
  }
}
