/**
 * The `local` forge: a git repository on disk, for `doom demo` and for trying the bot with no
 * account (Renovate's `local` platform is the model). What a forge would remember lives in the
 * store (src/store/local.ts): the "issue" is a task a person created with `doom assign` or a
 * `task.yml`, the "merge request" is the branch the agent left, its "pipeline" is the
 * repository's own commands (see pipeline.ts), and reviews come from `doom review`.
 *
 * The person at the keyboard is the repository's admin; nobody else is anyone here.
 *
 * ```ts
 * const forge = new LocalForge(db);
 * const repo = localRepo('/home/me/project');
 * const mr = await forge.openMergeRequest(repo, { sourceBranch: 'doom/1-fix', targetBranch: 'main', title, body, labels: [] });
 * ```
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Kysely } from 'kysely';
import type { PipelineRun } from '../event.js';
import type {
  Forge,
  IssueState,
  ForgeUser,
  MergeRequestDetails,
  MergeRequestSummary,
  OpenMergeRequest,
  Permission,
  PipelineRef,
  Reaction,
  RepoLocator,
  ReportLocation,
  ReviewVerdict,
  ThreadRef,
  UserRef,
} from '../forge.js';
import { ForgeApiError } from '../errors.js';
import type { Database, LocalMergeRequestRow } from '../../store/schema.js';
import {
  findLocalMergeRequest,
  getLocalIssue,
  getLocalMergeRequest,
  getLocalPipeline,
  latestLocalPipeline,
  localPipelinesAt,
  localReviews,
  openLocalMergeRequest,
  updateLocalMergeRequest,
  upsertLocalComment,
} from '../../store/local.js';
import { git } from '../../workspace/git.js';

/** The bot as the author of local merge requests. */
export const LOCAL_BOT: ForgeUser = { id: 0, login: 'doom-rlvr[bot]', isBot: true };

/** Who runs the CLI: the one person a local repository has. */
export function localOperator(): ForgeUser {
  return { id: 1, login: userInfo().username, isBot: false };
}

/** A stable positive 31-bit id for a repository path (the tasks table keys repositories by number). */
export function localRepoId(path: string): number {
  return createHash('sha256').update(path).digest().readUInt32BE(0) & 0x7fffffff;
}

export function localRepo(path: string): RepoLocator {
  return { id: localRepoId(path), fullName: path };
}

export function localMergeRequestUrl(repo: string, branch: string): string {
  return `${pathToFileURL(repo).href}#${branch}`;
}

export class LocalForge implements Forge {
  readonly kind = 'local' as const;

  constructor(private readonly db: Kysely<Database>) {}

  async upsertComment(thread: ThreadRef, marker: string, body: string): Promise<number> {
    return upsertLocalComment(this.db, thread.repo.fullName, `${thread.on}:${thread.number}`, marker, body);
  }

  /** Labels mean nothing without a forge to show them: `doom status` shows the task's state. */
  async addLabels(): Promise<void> {}

  async removeLabels(): Promise<void> {}

  /** A local issue is open for as long as it exists: nothing closes or unlabels it. */
  async getIssue(repo: RepoLocator, number: number): Promise<IssueState | null> {
    const issue = await getLocalIssue(this.db, repo.fullName, number);
    if (!issue) return null;
    return { number, state: 'open', labels: JSON.parse(issue.labels) as string[], title: issue.title, body: issue.body };
  }

  async permissionOf(_repo: RepoLocator, user: UserRef): Promise<Permission> {
    return user.login === localOperator().login ? 'admin' : 'none';
  }

  async findMergeRequestByBranch(repo: RepoLocator, branch: string): Promise<MergeRequestSummary | null> {
    const row = await findLocalMergeRequest(this.db, repo.fullName, branch);
    return row ? summary(row) : null;
  }

  async openMergeRequest(repo: RepoLocator, request: OpenMergeRequest): Promise<MergeRequestSummary> {
    return summary(await openLocalMergeRequest(this.db, { repo: repo.fullName, ...request }));
  }

  async updateMergeRequest(repo: RepoLocator, number: number, patch: { title?: string; body?: string }): Promise<MergeRequestSummary> {
    return summary(await updateLocalMergeRequest(this.db, repo.fullName, number, patch));
  }

  /** The repository is on disk: git needs no credential to reach it. */
  async gitCredential(): Promise<{ username: string; password: string }> {
    return { username: 'local', password: '' };
  }

  async getMergeRequest(repo: RepoLocator, number: number): Promise<MergeRequestDetails> {
    const row = await this.mergeRequest(repo, number);
    const headSha = await git(['rev-parse', `refs/heads/${row.source_branch}`], { cwd: repo.fullName });
    return { ...summary(row), headSha, author: LOCAL_BOT };
  }

  async reviews(repo: RepoLocator, number: number): Promise<ReviewVerdict[]> {
    const row = await this.mergeRequest(repo, number);
    const rows = await localReviews(this.db, row.id);
    return rows.map((r) => ({ user: { id: 1, login: r.reviewer, isBot: false }, state: r.state, at: r.at }));
  }

  async reactions(): Promise<Reaction[]> {
    return [];
  }

  async report(repo: RepoLocator, pipelineId: number, locations: ReportLocation[]): Promise<string | null> {
    const pipeline = await getLocalPipeline(this.db, repo.fullName, pipelineId);
    if (!pipeline) return null;
    const reports = JSON.parse(pipeline.reports) as Record<string, string>;
    for (const l of locations) {
      const text = reports[`${l.artifact}/${l.path}`];
      if (text !== undefined) return text;
    }
    return null;
  }

  /** Coverage comes from the coverage command's report only. */
  async pipelineCoverage(): Promise<number | null> {
    return null;
  }

  async latestSuccessfulPipeline(repo: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const row = await latestLocalPipeline(this.db, repo.fullName, ref, 'success');
    return row ? { id: row.id, sha: row.sha, coverage: null } : null;
  }

  /** The local pipelines the bot ran on the merge request's branch at its head commit. */
  async headPipelines(repo: RepoLocator, mr: { number: number; headSha: string }): Promise<PipelineRun[]> {
    const row = await this.mergeRequest(repo, mr.number);
    const rows = await localPipelinesAt(this.db, repo.fullName, row.source_branch, mr.headSha);
    return rows.map((p) => ({
      status: p.status,
      origin: { kind: 'local' },
      pipelineId: p.id,
      sha: p.sha,
      ref: p.ref,
      mergeRequestNumbers: [mr.number],
      url: `file://${repo.fullName}#pipeline/${p.id}`,
      coverage: null,
    }));
  }

  private async mergeRequest(repo: RepoLocator, number: number): Promise<LocalMergeRequestRow> {
    const row = await getLocalMergeRequest(this.db, repo.fullName, number);
    if (!row) throw new ForgeApiError(404, 'GET', `file://${repo.fullName}`, `local merge request ${number} does not exist`);
    return row;
  }
}

function summary(row: LocalMergeRequestRow): MergeRequestSummary {
  return {
    number: row.id,
    url: localMergeRequestUrl(row.repo, row.source_branch),
    title: row.title,
    body: row.body,
    sourceBranch: row.source_branch,
    targetBranch: row.target_branch,
    state: row.state,
  };
}
