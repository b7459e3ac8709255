/**
 * The RLVR evaluator: what CI and people say about a bot merge request becomes the agent's
 * reward. A finished pipeline for the MR's head commit gives a provisional reward; merging
 * or closing the MR makes it final and moves the agent's tier. Every evaluation reads the
 * merge request's current state from the forge and recomputes the reward of the attempt that
 * published it; a final reward is never rewritten, and an evaluation that changes nothing
 * writes nothing, so redelivered or late events can change nothing twice.
 *
 * Coverage is the MR's patch coverage: the head's coverage report (a forge artifact) over the
 * change's added and modified lines, which come from the mirror with the rest of the change
 * (sources.ts), not from a forge diff API: one reading of the change serves complexity, lint,
 * security, the guards and coverage alike, on every forge (signals/patch.ts says more).
 */
import type { Kysely } from 'kysely';
import type { Config, ReportsConfig } from '../config/schema.js';
import type { MergeRequestEvent, PipelineEvent, PipelineRun, ReviewEvent } from '../forges/event.js';
import type { Forge, ForgeDirectory, Permission, RepoLocator } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { audit } from '../store/audit.js';
import { completedRounds, publishedAttempt, taskOfPublishedAttempt } from '../store/assignments.js';
import { inheritedFailure } from '../store/ci-failures.js';
import { selectedCandidateAgent } from '../store/pipeline.js';
import { feedbackOf } from '../store/commands.js';
import { getTask, taskAtHead } from '../store/tasks.js';
import { rewardOfAttempt, saveAttemptReward, type AttemptRef, type SavedReward } from '../store/rewards.js';
import type { Database, EvaluationRow, MergeRequestState, TaskRow } from '../store/schema.js';
import { nowIso } from '../store/time.js';
import type { EventSink } from '../events.js';
import { announceTierChanges, recomputeAgent } from '../tiers/service.js';
import { KeyedMutex } from '../util/mutex.js';
import type { MirrorCache } from '../workspace/mirror.js';
import { assembleComponents, type CoverageBasis, type PipelineSignals } from './components.js';
import { computeReward, EVALUATOR_VERSION, type RewardComponents } from './formula.js';
import { renderRewardReport, rewardMarker } from './report-comment.js';
import { combinedStatus, matchPipeline, newestPerSequence, recordVerdict, sequenceOf, type Verdicts } from './pipelines.js';
import { peopleToCheck, reviewFeedback } from './review.js';
import { complexityDelta, fileComplexities, loadComplexity } from './signals/complexity.js';
import { parseCoverage, type CoverageSummary } from './signals/coverage.js';
import { patchCoverage, type PatchCoverage } from './signals/patch.js';
import { newFindings } from './signals/findings.js';
import { lintScore, parseLintReport } from './signals/lint.js';
import { parseGitlabSast, parseSarifSecurity, securityScore } from './signals/security.js';
import { changedSources, type ChangedSources } from './sources.js';
import { inspectChange, protectedPatterns, type Inspection, type Suppression } from '../policy/guards.js';
import type { Finding } from './signals/lint.js';

/** An added suppression comment is a lint finding of the change's own, whatever the linter reported. */
export const suppressionFinding = (s: Suppression): Finding => ({
  file: s.file,
  line: s.line,
  rule: `doom:suppression`,
  severity: 'major',
  message: `a new \`${s.marker}\` comment silences a check`,
});

export interface EvaluatorDeps {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  mirrors: MirrorCache;
  log: Logger;
  /** Where a tier change a reward caused is said (`tier.changed`). */
  events: EventSink;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Report paths from CI are often absolute (`/builds/group/project/src/a.ts`): match them to the changed files. */
export function toRepoPaths<F extends { file: string }>(findings: F[], changedFiles: readonly string[]): F[] {
  return findings.map((f) => {
    if (!f.file.startsWith('/') && !/^[a-z]:\//i.test(f.file)) return f;
    const match = changedFiles.find((c) => f.file.endsWith(`/${c}`));
    return match ? { ...f, file: match } : f;
  });
}

const parseSecurity = (text: string) => (/"vulnerabilities"\s*:/.test(text) ? parseGitlabSast(text) : parseSarifSecurity(text));

/** Runs signal readers; what one cannot read is noted in `missing`, by signal, with why. */
function gatherer() {
  const missing: Record<string, string> = {};
  const attempt = async <T>(name: string, work: () => Promise<T | null>, why: string): Promise<T | null> => {
    try {
      const value = await work();
      if (value === null) missing[name] = why;
      return value;
    } catch (error) {
      missing[name] = message(error);
      return null;
    }
  };
  return { missing, attempt };
}
type Gather = ReturnType<typeof gatherer>;

/** An evaluation's stored signals: what the reports said, the link, each CI sequence's verdict. */
type StoredSignals = PipelineSignals & { url?: string; verdicts?: Verdicts };

/**
 * Rows written before verdicts were kept per sequence name only the reports pipeline in
 * their columns: that is its verdict.
 */
function storedSignals(evaluation: EvaluationRow, forge: string): StoredSignals | null {
  const stored = JSON.parse(evaluation.signals) as StoredSignals | null;
  if (!stored) return null;
  if (stored.verdicts || evaluation.pipeline_id === null) return stored;
  const sequence = sequenceOf(forge === 'github' ? { kind: 'workflow_run' } : { kind: 'gitlab_pipeline', source: null });
  return { ...stored, verdicts: { [sequence]: { id: evaluation.pipeline_id, status: stored.status } } };
}

export class Evaluator {
  private readonly lock = new KeyedMutex();
  /** Evaluations that failed since start (the previous reward stood). */
  errors = 0;

  constructor(private readonly deps: EvaluatorDeps) {}

  /**
   * A finished pipeline, check suite or commit status. Only the merge request's own count
   * (see pipelines.ts); each CI sequence keeps its latest verdict, and only a pipeline with
   * reports (a workflow run, a GitLab pipeline) has its reports read. A verdict-only one
   * changes the CI component and leaves what the reports said alone.
   */
  async onPipeline(event: PipelineEvent): Promise<void> {
    const repo = { forge: event.forge, repoId: event.repo.id };
    const task = (await taskAtHead(this.deps.db, repo, event.sha)) ?? (await taskOfPublishedAttempt(this.deps.db, repo, { headSha: event.sha }));
    // Not a bot MR, or a pipeline for a commit that is no longer the head: not this reward's.
    if (!task || !this.belongsToMergeRequest(task, event)) return;
    await this.lock.run(String(task.id), () =>
      this.guard(task, async () => {
        const forge = await this.forgeOf(task);
        if (await this.recordPipeline(task, forge, event)) await this.evaluate(task, forge, 'pipeline');
      }),
    );
  }

  private belongsToMergeRequest(task: TaskRow, pipeline: PipelineRun): boolean {
    const match = matchPipeline({ headSha: task.head_sha, branch: task.branch, number: task.pr_number }, pipeline);
    if (match.kind === 'match') return true;
    this.deps.log.info({ taskId: task.id, pipelineId: pipeline.pipelineId, why: match.why }, 'pipeline ignored: not the merge request\'s');
    return false;
  }

  /**
   * Records a finished pipeline's verdict in the task's evaluation, reading its reports when it
   * has them; false when it says nothing new (an older run delivered late, or a redelivery).
   */
  private async recordPipeline(task: TaskRow, forge: Forge, pipeline: PipelineRun): Promise<boolean> {
    const previous = await this.evaluation(task.id);
    const stored = previous && previous.head_sha === pipeline.sha ? storedSignals(previous, task.forge) : null;
    const step = recordVerdict(stored?.verdicts ?? {}, pipeline);
    if (step.kind === 'stale') return false;
    const read = step.readReports || !stored ? await this.pipelineSignals(task, forge, pipeline, stored, step.readReports) : stored;
    const signals: StoredSignals = {
      ...read,
      status: combinedStatus(step.verdicts),
      url: step.readReports ? pipeline.url : (stored?.url ?? pipeline.url),
      verdicts: step.verdicts,
    };
    // The columns name the pipeline whose reports were read.
    const reportsRun = step.readReports
      ? { pipeline_id: pipeline.pipelineId, pipeline_status: pipeline.status }
      : { pipeline_id: stored ? (previous?.pipeline_id ?? null) : null, pipeline_status: stored ? (previous?.pipeline_status ?? null) : null };
    const row = { head_sha: pipeline.sha, ...reportsRun, signals: JSON.stringify(signals), updated_at: nowIso() };
    await this.deps.db
      .insertInto('evaluations')
      .values({ task_id: task.id, ...row, errors: 0, last_error: null })
      .onConflict((oc) => oc.column('task_id').doUpdateSet(row))
      .execute();
    return true;
  }

  /**
   * Before a reward settles, the head commit's pipelines are read from the forge: a delivery
   * may come after the merge, or never, and the first one delivered need not be the newest.
   * The newest finished run of each CI sequence is recorded as if it had been delivered. If
   * the forge cannot list them, the reward settles on what was delivered (and says why).
   */
  private async catchUpHead(task: TaskRow, forge: Forge, attempt: AttemptRef): Promise<void> {
    if (task.pr_number === null || task.head_sha === null) return;
    const reward = await rewardOfAttempt(this.deps.db, attempt);
    if (reward?.settled_at) return;
    let runs: PipelineRun[];
    try {
      runs = await forge.headPipelines({ id: task.repo_id, fullName: task.repo }, { number: task.pr_number, headSha: task.head_sha });
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: task.id }, 'the head commit\'s pipelines could not be listed: the reward settles on the delivered ones');
      return;
    }
    for (const run of newestPerSequence(runs.filter((r) => this.belongsToMergeRequest(task, r)))) await this.recordPipeline(task, forge, run);
  }

  async onReview(event: ReviewEvent): Promise<void> {
    const task = await this.taskOfMergeRequest(event.forge, event.repo.id, event.number);
    if (!task) return;
    await this.lock.run(String(task.id), async () => {
      // Before any pipeline there is no reward to update; the review is read when one finishes.
      const [evaluation, reward] = await Promise.all([this.evaluation(task.id), this.rewardOf(task)]);
      if (!evaluation && !reward) return;
      await this.guard(task, async () => this.evaluate(task, await this.forgeOf(task), 'review'));
    });
  }

  /**
   * A `/doom feedback` vote was recorded: the reward of the attempt that published the task's
   * merge request is computed again, as after a review (nothing before a pipeline finished).
   */
  async onFeedback(taskId: number): Promise<void> {
    const task = await getTask(this.deps.db, taskId);
    if (!task || task.pr_number === null) return;
    await this.lock.run(String(task.id), async () => {
      const [evaluation, reward] = await Promise.all([this.evaluation(task.id), this.rewardOf(task)]);
      if (!evaluation && !reward) return;
      await this.guard(task, async () => this.evaluate(task, await this.forgeOf(task), 'feedback'));
    });
  }

  async onMergeRequest(event: MergeRequestEvent): Promise<void> {
    if (event.action !== 'merged' && event.action !== 'closed' && event.action !== 'reopened') return;
    const task = await this.taskOfMergeRequest(event.forge, event.repo.id, event.mergeRequest.number);
    if (!task) return;
    await this.lock.run(String(task.id), () =>
      this.guard(task, async () => this.evaluate(task, await this.forgeOf(task), event.action)),
    );
  }

  /** Runs an evaluation; on error the previous reward stands, and the error is logged and counted. */
  private async guard(task: TaskRow, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.errors++;
      this.deps.log.error({ err: error, taskId: task.id }, 'evaluation failed: the previous reward stands');
      const now = nowIso();
      await this.deps.db
        .insertInto('evaluations')
        .values({
          task_id: task.id,
          head_sha: task.head_sha ?? '',
          pipeline_id: null,
          pipeline_status: null,
          signals: 'null',
          errors: 1,
          last_error: message(error),
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column('task_id').doUpdateSet((eb) => ({ errors: eb('evaluations.errors', '+', 1), last_error: message(error), updated_at: now })),
        )
        .execute();
      await audit(this.deps.db, { event: 'reward.error', actor: 'evaluator', taskId: task.id, data: { error: message(error) } });
    }
  }

  private async evaluate(task: TaskRow, forge: Forge, trigger: string): Promise<void> {
    const { db, config } = this.deps;
    const started = performance.now();
    const repo: RepoLocator = { id: task.repo_id, fullName: task.repo };
    if (task.pr_number === null) return;
    // The attempt that published this merge request is the one scored.
    const attempt = await publishedAttempt(db, task.id, task.pr_number);
    if (!attempt) return;
    // Under the pipeline the merge request carries the chosen candidate, which may be another agent's.
    const agentName = (await selectedCandidateAgent(db, attempt.id)) ?? attempt.agent_name;

    const mr = await forge.getMergeRequest(repo, task.pr_number);
    if (mr.state !== 'open') await this.catchUpHead(task, forge, { taskId: task.id, assignmentId: attempt.id, agentName });
    const evaluation = await this.evaluation(task.id);
    const pipeline = evaluation && evaluation.head_sha === task.head_sha ? storedSignals(evaluation, task.forge) : null;
    if (!pipeline && mr.state === 'open') return; // provisional rewards start with a finished pipeline

    let reviewScore: number | null = null;
    try {
      const [verdicts, reactions] = await Promise.all([forge.reviews(repo, task.pr_number), forge.reactions(repo, task.pr_number)]);
      const feedback = (await feedbackOf(db, task.id, task.pr_number)).map((f) => ({ user: { id: f.user_id, login: f.login, isBot: false }, vote: f.vote }));
      const permissions = new Map<string, Permission>();
      for (const login of peopleToCheck(verdicts, reactions, feedback)) permissions.set(login, await forge.permissionOf(repo, { login }));
      const rounds = await completedRounds(db, attempt.id, 'revision');
      reviewScore = reviewFeedback({ verdicts, reactions, feedback, state: mr.state, permissions, authorLogin: mr.author.login, rounds }).score;
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: task.id }, 'reviews could not be read: default used');
    }

    // A red pipeline whose every failed job also fails on the target branch is not the change's doing.
    const excused = pipeline?.status === 'failed' && task.head_sha ? await inheritedFailure(db, task.id, task.head_sha) : null;
    const { components, coverage, degraded, guarded } = assembleComponents(pipeline, reviewScore, config.evaluator, { ciExcused: excused !== null });
    const reward = computeReward(components, config.evaluator.weights, { mrState: mr.state });
    const kind = mr.state === 'open' ? 'provisional' : 'final';
    const saved = await saveAttemptReward(
      db,
      { taskId: task.id, assignmentId: attempt.id, agentName },
      {
        reward,
        components: { ...components },
        weights: { ...config.evaluator.weights },
        evaluatorVersion: EVALUATOR_VERSION,
        hookDurationMs: performance.now() - started,
        kind,
        degraded: Object.keys(degraded).length > 0,
        guarded: Object.keys(guarded).length > 0,
        mrNumber: task.pr_number,
        mrState: mr.state,
      },
    );
    await this.afterSave(task, forge, saved, { trigger, components, coverage, degraded, guarded, mrState: mr.state, pipelineUrl: pipeline?.url ?? null });
  }

  /**
   * What a saved evaluation leads to. A settled reward stands: a later event that disagrees with
   * it is kept as evidence in the audit log, and nothing else moves. An unchanged reward moves
   * nothing. A written one is audited, recomputes the tier when it settles, and updates the report.
   */
  private async afterSave(
    task: TaskRow,
    forge: Forge,
    saved: SavedReward,
    context: {
      trigger: string;
      components: RewardComponents;
      coverage: CoverageBasis | null;
      degraded: Record<string, string>;
      guarded: Record<string, string>;
      mrState: MergeRequestState;
      pipelineUrl: string | null;
    },
  ): Promise<void> {
    const { db, config } = this.deps;
    const { decision, previous, row } = saved;
    if (decision.kind === 'unchanged' || !row) return;
    if (decision.kind === 'settled') {
      if (decision.differs) {
        await audit(db, {
          event: 'reward.late_evidence',
          actor: 'evaluator',
          taskId: task.id,
          agentName: row.agent_name,
          data: { trigger: context.trigger, components: context.components, degraded: context.degraded, guarded: context.guarded, standing: { id: row.id, reward: row.reward, kind: row.kind } },
        });
      }
      return;
    }
    const agentName = row.agent_name;
    const { reward, kind } = row;
    if (!previous || previous.reward !== reward || previous.kind !== kind) {
      await audit(db, {
        event: `reward.${kind}`,
        actor: 'evaluator',
        taskId: task.id,
        agentName,
        data: {
          reward,
          trigger: context.trigger,
          components: context.components,
          degraded: context.degraded,
          guarded: context.guarded,
          attempt: row.assignment_id,
          previous: previous ? { reward: previous.reward, kind: previous.kind } : null,
        },
      });
    }

    // Tiers move on settled rewards only, once: when this one settles.
    const tier = decision.settles
      ? await recomputeAgent(db, config, agentName, 'rewards')
      : { agent: (await db.selectFrom('agents').selectAll().where('name', '=', agentName).executeTakeFirstOrThrow()), changed: false, from: null };
    if (tier.changed && tier.from) {
      await announceTierChanges(this.deps.events, [{ name: agentName, from: tier.from, to: tier.agent.tier }], { source: 'rewards', actor: 'evaluator' });
    }
    const tierChange = tier.changed
      ? await db
          .selectFrom('tier_history')
          .select(['from_tier', 'to_tier', 'reason'])
          .where('agent_name', '=', agentName)
          .orderBy('id', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow()
      : null;

    const body = renderRewardReport({
      taskId: task.id,
      agent: agentName,
      kind: kind === 'provisional' ? 'provisional' : 'final',
      reward,
      components: context.components,
      weights: config.evaluator.weights,
      coverage: context.coverage,
      mrState: context.mrState,
      degraded: context.degraded,
      guarded: context.guarded,
      rollingAvg: tier.agent.rolling_avg,
      tier: tier.agent.tier,
      tierChange: tierChange ? { from: tierChange.from_tier, to: tierChange.to_tier, reason: tierChange.reason } : null,
      pipelineUrl: context.pipelineUrl,
    });
    // A reward whose value and kind did not move keeps its report (a tier change once shown stays shown).
    const changed = !previous || previous.reward !== reward || previous.kind !== kind;
    if ((changed || tier.changed) && task.pr_number !== null) {
      await forge.upsertComment({ repo: { id: task.repo_id, fullName: task.repo }, number: task.pr_number, on: 'merge_request' }, rewardMarker(task.id), body);
    }
  }

  /**
   * Reads the pipeline's reports and the change's sources; what cannot be read is noted as
   * missing. Without reports (only a check suite or a commit status has finished) the
   * report signals are missing and only the sources are read.
   */
  private async pipelineSignals(
    task: TaskRow,
    forge: Forge,
    event: PipelineRun,
    stored: StoredSignals | null,
    readReports: boolean,
  ): Promise<PipelineSignals> {
    const repo: RepoLocator = { id: task.repo_id, fullName: task.repo };
    const reports = this.reportsFor(task.repo);
    const gather = gatherer();
    const { missing, attempt } = gather;
    if (!readReports) {
      const why = 'only a check suite or commit status has finished for the head commit: it has no reports';
      for (const name of ['coverage', 'lint', 'security']) missing[name] = why;
    }
    const { base, coverageHead, coverageBase, headReport } = readReports
      ? await this.coverageSignals(task, forge, event, stored, gather)
      : { base: null, coverageHead: null, coverageBase: null, headReport: null };
    const text = (pipelineId: number, locations: ReportsConfig[keyof ReportsConfig]) => forge.report(repo, pipelineId, locations);

    const sources = await attempt<ChangedSources>(
      'sources',
      async () => changedSources(this.deps.mirrors, { forge: task.forge, fullName: task.repo, cloneUrl: task.clone_url, targetBranch: task.default_branch }, task.head_sha!, await forge.gitCredential(repo)),
      'the change could not be read',
    );

    const scored = async (name: 'lint' | 'security', score: (head: string, base: string | null, s: ChangedSources) => number) => {
      if (!readReports) return null;
      if (!sources) {
        missing[name] = `the changed files could not be read: ${missing.sources ?? ''}`;
        return null;
      }
      return attempt(name, async () => {
        const head = await text(event.pipelineId, reports[name]);
        if (head === null) return null;
        const baseText = base ? await text(base.id, reports[name]).catch(() => null) : null;
        return score(head, baseText, sources);
      }, `no ${name} report in the pipeline`);
    };
    const inspection: Inspection | null = sources ? inspectChange(sources.change, protectedPatterns(this.deps.config.policy, task.repo)) : null;
    const lint = await scored('lint', (head, baseText, s) => {
      const found = newFindings(toRepoPaths(parseLintReport(head), s.files), baseText ? toRepoPaths(parseLintReport(baseText), s.files) : [], s.files);
      return lintScore([...found, ...(inspection?.suppressions ?? []).map(suppressionFinding)], s.changedLines);
    });
    const security = await scored('security', (head, baseText, s) =>
      securityScore(newFindings(toRepoPaths(parseSecurity(head), s.files), baseText ? toRepoPaths(parseSecurity(baseText), s.files) : [], s.files)),
    );
    const complexity = sources
      ? await attempt('complexity', async () => {
          const analyzer = await loadComplexity();
          return complexityDelta(fileComplexities(analyzer, sources.before), fileComplexities(analyzer, sources.after));
        }, 'complexity was not measured')
      : null;
    if (!sources) missing.complexity = `the changed files could not be read: ${missing.sources ?? ''}`;
    const patch = readReports ? this.patchSignal(headReport, sources, missing) : null;

    return {
      status: event.status,
      coverageHead,
      coverageBase,
      patch,
      lintScore: lint,
      securityScore: security,
      complexityDelta: complexity,
      missing,
      guards: inspection?.findings ?? [],
    };
  }

  /**
   * Coverage of the head and of the target branch, each by the same rule: the coverage
   * report, else the forge's own figure (the hook's, else the pipeline API's). The head's
   * parsed report is kept for patch coverage. After a fast-forward merge the target branch's
   * newest pipeline is the change itself: not a base to compare with, so the base read before
   * the merge stands.
   */
  private async coverageSignals(task: TaskRow, forge: Forge, event: PipelineRun, stored: StoredSignals | null, gather: Gather) {
    const repo: RepoLocator = { id: task.repo_id, fullName: task.repo };
    const { missing, attempt } = gather;
    const locations = this.reportsFor(task.repo).coverage;
    /** The pipeline's coverage: its report, parsed (kept for patch coverage), else the forge's figure. */
    const coverageOf = async (pipelineId: number, figure: () => Promise<number | null>) => {
      const report = await forge.report(repo, pipelineId, locations);
      if (report !== null) {
        const summary = parseCoverage(report);
        return { percent: summary.percent, summary };
      }
      const percent = await figure();
      return percent === null ? null : { percent, summary: null };
    };

    const latest = await attempt('base', () => forge.latestSuccessfulPipeline(repo, task.default_branch), `no successful pipeline on ${task.default_branch}`);
    const baseIsHead = latest !== null && latest.sha === task.head_sha;
    const base = baseIsHead ? null : latest;
    const head = await attempt(
      'coverage',
      () => coverageOf(event.pipelineId, async () => event.coverage ?? forge.pipelineCoverage(repo, event.pipelineId)),
      'no coverage report or figure for the head',
    );
    const coverageBase = base
      ? ((await attempt('coverage', () => coverageOf(base.id, async () => base.coverage), `no coverage report or figure on ${task.default_branch}`))?.percent ?? null)
      : baseIsHead
        ? (stored?.coverageBase ?? null)
        : null;
    if (!base && coverageBase === null) {
      missing.coverage ??= baseIsHead
        ? `the newest successful pipeline on ${task.default_branch} is this change itself: no base to compare coverage with`
        : `no successful pipeline on ${task.default_branch} to compare coverage with`;
    }
    return { base, coverageHead: head?.percent ?? null, coverageBase, headReport: head?.summary ?? null };
  }

  /** The head report's counts over the change's lines; null, with why in `missing.patch`, when either is missing. */
  private patchSignal(headReport: CoverageSummary | null, sources: ChangedSources | null, missing: Record<string, string>): PatchCoverage | null {
    if (!headReport) {
      missing.patch = missing.coverage ?? 'the head has a coverage figure but no coverage report';
      return null;
    }
    if (!sources) {
      missing.patch = `the changed lines could not be read: ${missing.sources ?? ''}`;
      return null;
    }
    const patch = patchCoverage(headReport, sources.change.added);
    if (!patch) missing.patch = 'the coverage report has no per-line data (totals only)';
    return patch;
  }

  private reportsFor(repo: string): ReportsConfig {
    return this.deps.config.evaluator.repositories[repo]?.reports ?? this.deps.config.evaluator.reports;
  }

  private forgeOf(task: TaskRow): Promise<Forge> {
    return this.deps.forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
  }

  private evaluation(taskId: number): Promise<EvaluationRow | undefined> {
    return this.deps.db.selectFrom('evaluations').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  }

  /** The reward of the attempt that published the task's merge request, if it has one. */
  private async rewardOf(task: TaskRow) {
    const attempt = task.pr_number === null ? undefined : await publishedAttempt(this.deps.db, task.id, task.pr_number);
    return attempt ? rewardOfAttempt(this.deps.db, { taskId: task.id, assignmentId: attempt.id, agentName: attempt.agent_name }) : undefined;
  }

  /** The task the merge request scores; an earlier attempt's MR gives the task as that attempt left it. */
  private async taskOfMergeRequest(forge: string, repoId: number, number: number): Promise<TaskRow | undefined> {
    const current = await this.deps.db
      .selectFrom('tasks')
      .selectAll()
      .where('forge', '=', forge)
      .where('repo_id', '=', repoId)
      .where('pr_number', '=', number)
      .executeTakeFirst();
    return current ?? taskOfPublishedAttempt(this.deps.db, { forge, repoId }, { mrNumber: number });
  }
}
