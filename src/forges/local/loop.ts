/**
 * The whole loop on a repository on disk, in one process: a task from `doom assign` or a
 * `task.yml`, the same intake, router, executor, evaluator and tiers as the bot, with the
 * `local` forge standing in for GitHub or GitLab. The run leaves a branch in the repository
 * (the "merge request", recorded in the store), the repository's own commands are its
 * pipeline, and `doom review` is its reviewer.
 *
 * ```ts
 * const loop = new LocalLoop({ core, config, log, executor });
 * const task = await loop.createTask({ repo: '/home/me/project', key: 'test-001', type: 'bugfix', description: 'fix add()' });
 * await loop.run(task.id, (e) => console.log(e));
 * await loop.review(task.id, 'merge');
 * ```
 */
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Kysely } from 'kysely';
import type { openCore } from '../../app.js';
import type { Config, TaskType } from '../../config/schema.js';
import type { Executor } from '../../executor/contract.js';
import type { Logger } from '../../log.js';
import { ExpectedError } from '../../errors.js';
import { Evaluator } from '../../rewards/evaluator.js';
import { RunCoordinator } from '../../tasks/runs.js';
import { wireRunConsequences } from '../../app.js';
import { audit } from '../../store/audit.js';
import { findTaskByIssue, getTask } from '../../store/tasks.js';
import {
  ensureLocalIssue,
  getLocalMergeRequest,
  lastTierHistoryId,
  latestLocalPipeline,
  localIssueOfTask,
  missingSignalsOf,
  recordLocalReview,
  rewardOfTask,
  tierChangesSince,
  updateLocalMergeRequest,
} from '../../store/local.js';
import type { Database, LocalIssueRow, TaskRow, TierHistoryRow } from '../../store/schema.js';
import { git } from '../../workspace/git.js';
import { MirrorCache } from '../../workspace/mirror.js';
import type { IssueEvent, PipelineEvent, RepoRef } from '../event.js';
import { localOperator, localRepoId } from './forge.js';
import { LocalPipelineError, runLocalPipeline, testCounts, type StepResult } from './pipeline.js';

export class LocalModeError extends ExpectedError {}

type Core = Awaited<ReturnType<typeof openCore>>;

export interface LocalLoopDeps {
  core: Core;
  config: Config;
  log: Logger;
  executor: Executor;
}

export interface NewLocalTask {
  /** Any path inside the repository. */
  repo: string;
  /** The id a person gave the task (`test-001`). */
  key: string;
  type?: TaskType;
  description?: string;
  title?: string;
  /** A `task.yml` text (the seed's schema), read by the same intake as an issue's block. */
  taskYaml?: string;
  /** This agent takes the task whatever the router would choose (the `agent:<name>` label). */
  forceAgent?: string;
}

/** What happens, as it happens, for `doom demo` and `doom assign` to print. */
export type LoopEvent =
  | { kind: 'task'; task: TaskRow }
  | { kind: 'assigned'; task: TaskRow }
  | { kind: 'run'; task: TaskRow }
  | { kind: 'branch'; task: TaskRow; branch: string; sha: string }
  | { kind: 'failed'; task: TaskRow; error: string }
  | { kind: 'pipeline'; ref: string; sha: string; status: string; steps: StepSummary[] }
  | { kind: 'reward'; taskId: number; agent: string; reward: number; rewardKind: string; components: Record<string, number>; missing: Record<string, string> }
  | { kind: 'tier'; change: TierHistoryRow }
  | { kind: 'note'; text: string };

export interface StepSummary {
  name: string;
  exitCode: number | null;
  tests: { pass: number; fail: number } | null;
  error?: string;
}

export type ReviewAction = 'approve' | 'request-changes' | 'merge' | 'close';

const summarize = (steps: StepResult[]): StepSummary[] =>
  steps.map((s) => ({ name: s.name, exitCode: s.exitCode, tests: s.name === 'test' ? testCounts(s.output) : null, ...(s.error ? { error: s.error } : {}) }));

/** The repository's top level and its checked-out branch (the target of merge requests). */
export async function repositoryAt(path: string): Promise<{ root: string; defaultBranch: string }> {
  const root = await git(['rev-parse', '--show-toplevel'], { cwd: resolve(path) }).catch(() => {
    throw new LocalModeError(`${resolve(path)} is not inside a git repository`);
  });
  const defaultBranch = await git(['symbolic-ref', '--short', 'HEAD'], { cwd: root }).catch(() => {
    throw new LocalModeError(`${root} has no branch checked out (detached HEAD): check out the branch merge requests should target`);
  });
  return { root, defaultBranch };
}

function repoRef(root: string, defaultBranch: string): RepoRef {
  return { id: localRepoId(root), fullName: root, defaultBranch, webUrl: `file://${root}`, cloneUrl: root };
}

export class LocalLoop {
  readonly evaluator: Evaluator;

  constructor(private readonly deps: LocalLoopDeps) {
    const { config } = deps;
    this.evaluator = new Evaluator({
      db: deps.core.store.db,
      config,
      forges: deps.core.forges,
      log: deps.log,
      events: deps.core.events,
      mirrors: new MirrorCache({ root: resolve(config.executor.mirror_dir), diskBudgetBytes: config.executor.mirror_disk_budget_mb * 1024 * 1024 }),
    });
  }

  private get db(): Kysely<Database> {
    return this.deps.core.store.db;
  }

  /**
   * Creates the task (or finds the one `key` already names) through the same intake as a
   * labeled issue: type from `type`, the rest from the `task.yml` block, else the defaults.
   */
  async createTask(input: NewLocalTask): Promise<{ task: TaskRow; created: boolean }> {
    const { root, defaultBranch } = await repositoryAt(input.repo);
    const { labels } = this.deps.config;
    const description = input.description?.trim() ?? '';
    const fromYaml = input.taskYaml ? yamlDescription(input.taskYaml) : '';
    const title = input.title ?? ((description || fromYaml).split('\n')[0]?.slice(0, 120) || input.key);
    const body = [description, input.taskYaml ? `\`\`\`yaml\n${input.taskYaml.trimEnd()}\n\`\`\`` : ''].filter(Boolean).join('\n\n');
    const issueLabels = [labels.trigger, ...(input.type ? [input.type] : []), ...(input.forceAgent ? [`${labels.force_agent_prefix}${input.forceAgent}`] : [])];
    const { issue } = await ensureLocalIssue(this.db, { repo: root, key: input.key, title, body, labels: issueLabels });
    const repo = repoRef(root, defaultBranch);
    const existing = await findTaskByIssue(this.db, { forge: 'local', repoId: repo.id, issueNumber: issue.id });
    if (existing) return { task: existing, created: false };
    await this.deps.core.tasks.onIssueEvent(labeledEvent(repo, issue, labels.trigger));
    const task = await findTaskByIssue(this.db, { forge: 'local', repoId: repo.id, issueNumber: issue.id });
    if (!task) throw new Error(`the local task ${input.key} was not created`);
    return { task, created: true };
  }

  /**
   * Another attempt at a finished or failed local task, as adding its label again on a forge
   * asks for one: the same intake re-queues and routes it.
   */
  async again(taskId: number): Promise<TaskRow> {
    const task = await this.task(taskId);
    const issue = await localIssueOfTask(this.db, taskId);
    if (!issue) throw new LocalModeError(`task ${taskId} is not a local task`);
    await this.deps.core.tasks.onIssueEvent(labeledEvent(repoRef(task.repo, task.default_branch), issue, this.deps.config.labels.trigger));
    return this.task(taskId);
  }

  /**
   * Runs the task's assigned attempts (escalations included) to the end, then its pipeline
   * on the target branch and on the branch, and evaluates: a provisional reward.
   */
  async run(taskId: number, report: (e: LoopEvent) => void = () => undefined): Promise<TaskRow> {
    let task = await this.task(taskId);
    if (task.status === 'pending') throw new LocalModeError(`task ${taskId} stays pending: ${task.pending_reason ?? 'no agent can take it'}`);
    const { core } = this.deps;
    const runs = new RunCoordinator({ db: this.db, config: this.deps.config, forges: core.forges, tasks: core.tasks, events: core.events, log: this.deps.log, executor: this.deps.executor });
    wireRunConsequences(core.events, core.tasks, runs);
    report({ kind: 'run', task });
    await runs.start();
    try {
      while (task.status === 'assigned' || task.status === 'in_progress') {
        await new Promise((r) => setTimeout(r, 100));
        await runs.idle();
        task = await this.task(taskId);
      }
    } finally {
      await runs.stop();
    }
    if (task.status !== 'completed' || task.head_sha === null || task.branch === null) {
      report({ kind: 'failed', task, error: task.error_message ?? task.pending_reason ?? task.status });
      return task;
    }
    report({ kind: 'branch', task, branch: task.branch, sha: task.head_sha });
    try {
      await this.pipelines(task, report);
    } catch (error) {
      if (!(error instanceof LocalPipelineError)) throw error;
      report({ kind: 'note', text: `${error.message}; no reward until a pipeline has run` });
      return task;
    }
    await this.reportReward(taskId, report);
    return this.task(taskId);
  }

  /** The base pipeline (once per target commit) then the branch's; the branch's goes to the evaluator. */
  private async pipelines(task: TaskRow, report: (e: LoopEvent) => void): Promise<void> {
    const { config } = this.deps;
    const baseSha = await git(['rev-parse', `refs/heads/${task.default_branch}`], { cwd: task.repo });
    const known = await latestLocalPipeline(this.db, task.repo, task.default_branch);
    if (!known || known.sha !== baseSha) {
      const base = await runLocalPipeline({ db: this.db, config, repo: task.repo, ref: task.default_branch, sha: baseSha });
      report({ kind: 'pipeline', ref: task.default_branch, sha: baseSha, status: base.pipeline.status, steps: summarize(base.steps) });
    }
    const head = await runLocalPipeline({ db: this.db, config, repo: task.repo, ref: task.branch!, sha: task.head_sha! });
    report({ kind: 'pipeline', ref: task.branch!, sha: task.head_sha!, status: head.pipeline.status, steps: summarize(head.steps) });
    const event: PipelineEvent = {
      forge: 'local',
      kind: 'pipeline',
      action: 'completed',
      repo: repoRef(task.repo, task.default_branch),
      sender: localOperator(),
      status: head.pipeline.status,
      origin: { kind: 'local' },
      pipelineId: head.pipeline.id,
      sha: task.head_sha!,
      ref: task.branch!,
      mergeRequestNumbers: task.pr_number === null ? [] : [task.pr_number],
      url: `file://${task.repo}#pipeline/${head.pipeline.id}`,
      coverage: null,
    };
    await this.evaluator.onPipeline(event);
  }

  /** `doom review`: a verdict, a merge or a close on the task's branch, then the evaluator reads it. */
  async review(taskId: number, action: ReviewAction, report: (e: LoopEvent) => void = () => undefined): Promise<TaskRow> {
    const task = await this.task(taskId);
    if (task.forge !== 'local') throw new LocalModeError(`task ${taskId} is a ${task.forge} task: review it on ${task.forge}`);
    if (task.pr_number === null || task.branch === null) throw new LocalModeError(`task ${taskId} has no branch to review yet (status ${task.status})`);
    const mr = await getLocalMergeRequest(this.db, task.repo, task.pr_number);
    if (!mr) throw new LocalModeError(`task ${taskId}'s merge request ${task.pr_number} is not in the store`);
    if (mr.state !== 'open') throw new LocalModeError(`task ${taskId}'s branch ${mr.source_branch} is already ${mr.state}`);
    const operator = localOperator();
    const repo = repoRef(task.repo, task.default_branch);
    const since = await lastTierHistoryId(this.db);
    if (action === 'approve' || action === 'request-changes') {
      const state = action === 'approve' ? 'approved' : 'changes_requested';
      await recordLocalReview(this.db, mr.id, operator.login, state);
      await audit(this.db, { event: `review.${state}`, actor: operator.login, taskId, data: { branch: mr.source_branch } });
      await this.evaluator.onReview({ forge: 'local', kind: 'review', action: 'submitted', state, repo, sender: operator, reviewer: operator, number: mr.id, headSha: task.head_sha ?? undefined });
    } else {
      if (action === 'merge') await mergeBranch(task.repo, mr.source_branch, mr.target_branch);
      const updated = await updateLocalMergeRequest(this.db, task.repo, mr.id, { state: action === 'merge' ? 'merged' : 'closed' });
      await audit(this.db, { event: `mr.${updated.state}`, actor: operator.login, taskId, data: { branch: mr.source_branch, into: mr.target_branch } });
      await this.evaluator.onMergeRequest({
        forge: 'local',
        kind: 'merge_request',
        action: updated.state === 'merged' ? 'merged' : 'closed',
        repo,
        sender: operator,
        mergeRequest: {
          number: mr.id,
          title: mr.title,
          body: mr.body,
          url: `file://${task.repo}#${mr.source_branch}`,
          sourceBranch: mr.source_branch,
          targetBranch: mr.target_branch,
          headSha: task.head_sha ?? '',
          author: { id: 0, login: 'doom-rlvr[bot]', isBot: true },
          labels: [],
        },
      });
    }
    await this.reportReward(taskId, report, since);
    return this.task(taskId);
  }

  private async reportReward(taskId: number, report: (e: LoopEvent) => void, tierSince?: number): Promise<void> {
    const reward = await rewardOfTask(this.db, taskId);
    if (!reward) return;
    report({
      kind: 'reward',
      taskId,
      agent: reward.agent_name,
      reward: reward.reward,
      rewardKind: reward.kind,
      components: reward.components,
      missing: await missingSignalsOf(this.db, taskId),
    });
    if (tierSince === undefined) return;
    for (const change of await tierChangesSince(this.db, reward.agent_name, tierSince)) report({ kind: 'tier', change });
  }

  private async task(id: number): Promise<TaskRow> {
    const task = await getTask(this.db, id);
    if (!task) throw new LocalModeError(`task ${id} does not exist`);
    return task;
  }
}

/** What a person adding the trigger label to the local issue would send. */
function labeledEvent(repo: RepoRef, issue: LocalIssueRow, trigger: string): IssueEvent {
  const operator = localOperator();
  return {
    forge: 'local',
    kind: 'issue',
    action: 'labeled',
    label: trigger,
    repo,
    sender: operator,
    issue: {
      number: issue.id,
      title: issue.title,
      body: issue.body,
      labels: JSON.parse(issue.labels) as string[],
      url: `file://${repo.fullName}#task/${encodeURIComponent(issue.key)}`,
      state: 'open',
      author: operator,
    },
  };
}

/** The `description` of a task.yml, for the title; the intake validates the whole block. */
function yamlDescription(text: string): string {
  try {
    const data = parseYaml(text) as { task?: { description?: unknown } } | null;
    return typeof data?.task?.description === 'string' ? data.task.description : '';
  } catch {
    return '';
  }
}

/**
 * Merges the branch into the target: a merge commit when the target is checked out (git
 * refuses if that would touch uncommitted changes), else a fast-forward of the target ref.
 */
async function mergeBranch(repo: string, branch: string, target: string): Promise<void> {
  const current = await git(['symbolic-ref', '--short', 'HEAD'], { cwd: repo }).catch(() => '');
  const identity = (await git(['config', 'user.name'], { cwd: repo }).catch(() => '')) === ''
    ? { GIT_AUTHOR_NAME: localOperator().login, GIT_AUTHOR_EMAIL: `${localOperator().login}@localhost`, GIT_COMMITTER_NAME: localOperator().login, GIT_COMMITTER_EMAIL: `${localOperator().login}@localhost` }
    : undefined;
  if (current === target) {
    await git(['merge', '--no-ff', '-m', `Merge branch '${branch}' (doom review merge)`, `refs/heads/${branch}`], { cwd: repo, env: identity }).catch((error: unknown) => {
      throw new LocalModeError(`could not merge ${branch} into ${target}: ${(error as Error).message}`);
    });
    return;
  }
  const [targetSha, branchSha] = [await git(['rev-parse', `refs/heads/${target}`], { cwd: repo }), await git(['rev-parse', `refs/heads/${branch}`], { cwd: repo })];
  const ff = await git(['merge-base', '--is-ancestor', targetSha, branchSha], { cwd: repo }).then(() => true, () => false);
  if (!ff) throw new LocalModeError(`${target} is not checked out and ${branch} does not fast-forward it: check out ${target} and run the merge again`);
  await git(['update-ref', `refs/heads/${target}`, branchSha, targetSha], { cwd: repo });
}
