/**
 * The RLVR evaluator: what CI and people say about a bot merge request becomes the agent's
 * reward. A finished pipeline for the MR's head commit gives a provisional reward; merging
 * or closing the MR makes it final and moves the agent's tier. Every evaluation reads the
 * merge request's current state from the forge and recomputes the task's one reward row,
 * so redelivered or reordered events can change nothing twice.
 */
import type { Kysely } from 'kysely';
import type { Config, ReportsConfig } from '../config/schema.js';
import type { MergeRequestEvent, PipelineEvent, ReviewEvent } from '../forges/event.js';
import type { Forge, ForgeDirectory, Permission, RepoLocator } from '../forges/forge.js';
import type { Logger } from '../log.js';
import { audit } from '../store/audit.js';
import { upsertReward } from '../store/rewards.js';
import type { Database, EvaluationRow, TaskRow } from '../store/schema.js';
import { nowIso } from '../store/time.js';
import type { EventSink } from '../events.js';
import { announceTierChanges, recomputeAgent } from '../tiers/service.js';
import { KeyedMutex } from '../util/mutex.js';
import type { MirrorCache } from '../workspace/mirror.js';
import { assembleComponents, type PipelineSignals } from './components.js';
import { computeReward, EVALUATOR_VERSION } from './formula.js';
import { renderRewardReport, rewardMarker } from './report-comment.js';
import { peopleToCheck, reviewFeedback } from './review.js';
import { complexityDelta, fileComplexities, loadComplexity } from './signals/complexity.js';
import { parseCoverage } from './signals/coverage.js';
import { newFindings } from './signals/findings.js';
import { lintScore, parseLintReport } from './signals/lint.js';
import { parseGitlabSast, parseSarifSecurity, securityScore } from './signals/security.js';
import { changedSources, type ChangedSources } from './sources.js';

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

export class Evaluator {
  private readonly lock = new KeyedMutex();
  /** Evaluations that failed since start (the previous reward stood). */
  errors = 0;

  constructor(private readonly deps: EvaluatorDeps) {}

  async onPipeline(event: PipelineEvent): Promise<void> {
    const task = await this.deps.db
      .selectFrom('tasks')
      .selectAll()
      .where('forge', '=', event.forge)
      .where('repo_id', '=', event.repo.id)
      .where('head_sha', '=', event.sha)
      .where('pr_number', 'is not', null)
      .executeTakeFirst();
    // Not a bot MR, or a pipeline for a commit that is no longer the head: not this reward's.
    if (!task) return;
    await this.lock.run(String(task.id), async () => {
      const previous = await this.evaluation(task.id);
      if (previous && previous.head_sha === task.head_sha && previous.pipeline_id !== null) {
        if (previous.pipeline_id > event.pipelineId) return; // an older pipeline, delivered late
        if (previous.pipeline_id === event.pipelineId && previous.pipeline_status === event.status) return; // a redelivery
      }
      await this.guard(task, async () => {
        const forge = await this.forgeOf(task);
        const signals = await this.pipelineSignals(task, forge, event);
        const row = {
          head_sha: event.sha,
          pipeline_id: event.pipelineId,
          pipeline_status: event.status,
          signals: JSON.stringify({ ...signals, url: event.url }),
          updated_at: nowIso(),
        };
        await this.deps.db
          .insertInto('evaluations')
          .values({ task_id: task.id, ...row, errors: 0, last_error: null })
          .onConflict((oc) => oc.column('task_id').doUpdateSet(row))
          .execute();
        await this.evaluate(task, forge, 'pipeline');
      });
    });
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
    const agentName = task.assigned_agent;
    if (!agentName || task.pr_number === null) return;

    const mr = await forge.getMergeRequest(repo, task.pr_number);
    const evaluation = await this.evaluation(task.id);
    const stored = evaluation?.signals ? (JSON.parse(evaluation.signals) as (PipelineSignals & { url?: string }) | null) : null;
    const pipeline = stored && evaluation?.head_sha === task.head_sha ? stored : null;
    if (!pipeline && mr.state === 'open') return; // provisional rewards start with a finished pipeline

    let reviewScore: number | null = null;
    try {
      const [verdicts, reactions] = await Promise.all([forge.reviews(repo, task.pr_number), forge.reactions(repo, task.pr_number)]);
      const permissions = new Map<string, Permission>();
      for (const login of peopleToCheck(verdicts, reactions)) permissions.set(login, await forge.permissionOf(repo, { login }));
      reviewScore = reviewFeedback({ verdicts, reactions, state: mr.state, permissions, authorLogin: mr.author.login }).score;
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: task.id }, 'reviews could not be read: default used');
    }

    const { components, degraded } = assembleComponents(pipeline, reviewScore, config.evaluator);
    const reward = computeReward(components, config.evaluator.weights);
    const kind = mr.state === 'open' ? 'provisional' : 'final';
    const previous = await this.rewardOf(task);
    await upsertReward(db, {
      taskId: task.id,
      agentName,
      reward,
      components: { ...components },
      weights: { ...config.evaluator.weights },
      evaluatorVersion: EVALUATOR_VERSION,
      hookDurationMs: performance.now() - started,
      kind,
      degraded: Object.keys(degraded).length > 0,
    });
    const changed = !previous || previous.reward !== reward || previous.kind !== kind;
    if (changed) {
      await audit(db, {
        event: `reward.${kind}`,
        actor: 'evaluator',
        taskId: task.id,
        agentName,
        data: { reward, trigger, components, degraded, previous: previous ? { reward: previous.reward, kind: previous.kind } : null },
      });
    }

    // Tiers move on settled rewards only; a change to or from final recomputes them.
    const settledChanged = kind === 'final' || previous?.kind === 'final';
    const tier = settledChanged
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
      kind,
      reward,
      components,
      weights: config.evaluator.weights,
      degraded,
      rollingAvg: tier.agent.rolling_avg,
      tier: tier.agent.tier,
      tierChange: tierChange ? { from: tierChange.from_tier, to: tierChange.to_tier, reason: tierChange.reason } : null,
      pipelineUrl: pipeline?.url ?? null,
    });
    // An unchanged reward keeps its report (and a tier change once shown stays shown).
    if (changed || tier.changed) {
      await forge.upsertComment({ repo, number: task.pr_number, on: 'merge_request' }, rewardMarker(task.id), body);
    }
  }

  /** Reads the pipeline's reports and the change's sources; what cannot be read is noted as missing. */
  private async pipelineSignals(task: TaskRow, forge: Forge, event: PipelineEvent): Promise<PipelineSignals> {
    const repo: RepoLocator = { id: task.repo_id, fullName: task.repo };
    const reports = this.reportsFor(task.repo);
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

    const base = await attempt('base', () => forge.latestSuccessfulPipeline(repo, task.default_branch), `no successful pipeline on ${task.default_branch}`);
    const text = (pipelineId: number, locations: ReportsConfig[keyof ReportsConfig]) => forge.report(repo, pipelineId, locations);
    const coverageOf = async (pipelineId: number, figure: number | null) =>
      figure ?? (await text(pipelineId, reports.coverage).then((t) => (t === null ? null : parseCoverage(t).percent)));

    const coverageHead = await attempt('coverage', () => coverageOf(event.pipelineId, event.coverage), 'no coverage figure or report for the head');
    const coverageBase = base
      ? await attempt('coverage', () => coverageOf(base.id, base.coverage), `no coverage figure or report on ${task.default_branch}`)
      : null;
    if (!base) missing.coverage ??= `no successful pipeline on ${task.default_branch} to compare coverage with`;

    const sources = await attempt<ChangedSources>(
      'sources',
      async () => changedSources(this.deps.mirrors, { forge: task.forge, fullName: task.repo, cloneUrl: task.clone_url, targetBranch: task.default_branch }, task.head_sha!, await forge.gitCredential(repo)),
      'the change could not be read',
    );

    const scored = async (name: 'lint' | 'security', score: (head: string, base: string | null, s: ChangedSources) => number) => {
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
    const lint = await scored('lint', (head, baseText, s) => {
      const found = newFindings(toRepoPaths(parseLintReport(head), s.files), baseText ? toRepoPaths(parseLintReport(baseText), s.files) : [], s.files);
      return lintScore(found, s.changedLines);
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

    return {
      status: event.status,
      coverageHead,
      coverageBase,
      lintScore: lint,
      securityScore: security,
      complexityDelta: complexity,
      missing,
    };
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

  private rewardOf(task: TaskRow) {
    return this.deps.db
      .selectFrom('rewards')
      .selectAll()
      .where('task_id', '=', task.id)
      .where('agent_name', '=', task.assigned_agent ?? '')
      .executeTakeFirst();
  }

  private taskOfMergeRequest(forge: string, repoId: number, number: number): Promise<TaskRow | undefined> {
    return this.deps.db
      .selectFrom('tasks')
      .selectAll()
      .where('forge', '=', forge)
      .where('repo_id', '=', repoId)
      .where('pr_number', '=', number)
      .executeTakeFirst();
  }
}
