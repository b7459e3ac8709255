/**
 * The seam between the bot and a forge. One object per GitHub App installation or GitLab
 * project host; every method is safe to call again after a crash (idempotent by design).
 */
import type { CommentKind, ForgeKind, PipelineRun } from './event.js';

/** Enough to address a repository on either forge: GitHub uses `fullName`, GitLab `id`. */
export interface RepoLocator {
  id: number;
  fullName: string;
}

/** A comment the bot read, by its id and where the id is from. */
export interface CommentRef {
  id: number;
  kind: CommentKind;
}

/** An issue or a pull/merge request: the two things the bot comments on and labels. */
export interface ThreadRef {
  repo: RepoLocator;
  number: number;
  on: 'issue' | 'merge_request';
}

export interface MergeRequestSummary {
  number: number;
  url: string;
  title: string;
  body: string;
  sourceBranch: string;
  targetBranch: string;
  state: 'open' | 'closed' | 'merged';
}

/** An issue as the forge shows it now. */
export interface IssueState {
  number: number;
  state: 'open' | 'closed';
  labels: string[];
  title: string;
  body: string;
}

export interface OpenMergeRequest {
  sourceBranch: string;
  targetBranch: string;
  title: string;
  body: string;
  labels: string[];
}

/**
 * Access a user has on a repository, folded to what the bot decides on (see
 * `permissions/roles.ts`): GitHub's roles as they are (`triage` is read); GitLab Owner is
 * admin, Maintainer maintain, Developer write, Planner, Reporter and Guest read.
 */
export type Permission = 'admin' | 'maintain' | 'write' | 'read' | 'none';

/**
 * Who to look up: the login, and the forge's numeric user id when known (GitLab looks the
 * member up by id; without one it finds the id by username first).
 */
export interface UserRef {
  login: string;
  id?: number;
}

export interface Forge {
  readonly kind: ForgeKind;

  /**
   * Creates or edits the one comment on `thread` that carries `marker` (an HTML comment the
   * bot embeds), so a retry edits instead of posting twice. `knownId` skips the search when
   * the caller remembers the comment. Returns the comment id.
   */
  upsertComment(thread: ThreadRef, marker: string, body: string, knownId?: number | null): Promise<number>;

  /**
   * Acknowledges a comment the bot read a command in, with an "eyes" reaction (GitHub) or
   * award emoji (GitLab). Idempotent: one already there is left alone. Optional so forges
   * without reactions (a local forge) can leave it out; the reply still comes. GitHub has no
   * reactions on a review's body: there it does nothing.
   */
  acknowledgeComment?(thread: ThreadRef, comment: CommentRef): Promise<void>;

  /** Adds labels, creating none twice; labels already present are left alone. */
  addLabels(thread: ThreadRef, labels: string[]): Promise<void>;

  /** Removes labels; a label the thread does not carry is not an error (so a retry is safe). */
  removeLabels(thread: ThreadRef, labels: string[]): Promise<void>;

  /**
   * The issue as it is now: its state and labels decide whether it wants a task, whatever
   * order its webhooks arrive in. Null when the forge no longer has it (deleted, moved).
   */
  getIssue(repo: RepoLocator, number: number): Promise<IssueState | null>;

  /**
   * The user's access to the repository: GitHub's collaborator permission, GitLab's project
   * member level including inherited ones. Someone the forge answers 404 for has `none`.
   */
  permissionOf(repo: RepoLocator, user: UserRef): Promise<Permission>;

  /** The open pull/merge request whose source branch is `branch`, if any. */
  findMergeRequestByBranch(repo: RepoLocator, branch: string): Promise<MergeRequestSummary | null>;

  openMergeRequest(repo: RepoLocator, request: OpenMergeRequest): Promise<MergeRequestSummary>;

  updateMergeRequest(
    repo: RepoLocator,
    number: number,
    patch: { title?: string; body?: string },
  ): Promise<MergeRequestSummary>;

  /** A short-lived credential for git over HTTPS (installation token, bot token). */
  gitCredential(repo: RepoLocator): Promise<{ username: string; password: string }>;

  /** The merge request as it is now, whatever its state. */
  getMergeRequest(repo: RepoLocator, number: number): Promise<MergeRequestDetails>;

  /**
   * Each reviewer's latest standing verdict (GitHub reviews; GitLab approvals and reviewer
   * states). Dismissed or withdrawn verdicts are left out.
   */
  reviews(repo: RepoLocator, number: number): Promise<ReviewVerdict[]>;

  /** Reactions on the merge request itself. */
  reactions(repo: RepoLocator, number: number): Promise<Reaction[]>;

  /**
   * The text of the first report found at `locations`, tried in order, in the artifacts of
   * `pipelineId` (GitHub workflow run, zip artifacts; GitLab pipeline, job artifacts).
   * Null when none is there.
   */
  report(repo: RepoLocator, pipelineId: number, locations: ReportLocation[]): Promise<string | null>;

  /**
   * The coverage percentage the forge computed for a pipeline (GitLab's `coverage`, read from
   * the pipeline API: the Pipeline Hook does not carry it). Null when it has none; always
   * null on GitHub, which computes no such figure.
   */
  pipelineCoverage(repo: RepoLocator, pipelineId: number): Promise<number | null>;

  /** The newest successful pipeline (workflow run) on `ref`, e.g. the target branch. */
  latestSuccessfulPipeline(repo: RepoLocator, ref: string): Promise<PipelineRef | null>;

  /**
   * The finished pipelines of a merge request's head commit, as the forge lists them now:
   * GitHub's workflow runs, other Apps' check suites and commit statuses; GitLab's merge
   * request pipelines. Read before a reward settles, because a pipeline's delivery may come
   * after the merge, or not at all.
   */
  headPipelines(repo: RepoLocator, mr: { number: number; headSha: string }): Promise<PipelineRun[]>;

  /*
   * Review rounds and CI fixes (tasks/revisions.ts, tasks/ci-fixes.ts). Optional: a forge
   * without them (the local one, where the person at the terminal is the reviewer and the
   * repository's own commands are CI) gets no revision comments and no fix runs.
   */

  /**
   * What a reviewer asked for, as the forge holds it now: on GitHub the review `reviewId`'s
   * body and its inline comments; on GitLab the merge request's unresolved discussion notes
   * (`reviewId` is not used). System notes are left out.
   */
  reviewComments?(repo: RepoLocator, number: number, reviewId?: number): Promise<ReviewComment[]>;

  /** The jobs that failed in a pipeline (GitHub: the workflow run's latest attempt; jobs allowed to fail are left out). */
  failedJobs?(repo: RepoLocator, pipelineId: number): Promise<CiJob[]>;

  /** The newest finished pipeline on `ref`, whatever its result (push pipelines on GitHub). */
  latestPipeline?(repo: RepoLocator, ref: string): Promise<PipelineRef | null>;

  /** The job's log, its last `maxBytes` when longer (GitHub job logs; GitLab job trace). */
  jobLog?(repo: RepoLocator, jobId: number, maxBytes: number): Promise<string>;
}

/** A reviewer's comment: a review body (no path) or an inline comment on a file and line. */
export interface ReviewComment {
  author: ForgeUser;
  body: string;
  path: string | null;
  /** The line in the new version of the file, when the forge says. */
  line: number | null;
}

/** A CI job of a pipeline. */
export interface CiJob {
  id: number;
  name: string;
  url: string | null;
}

/** A person or bot as the evaluation sees them. */
export interface ForgeUser {
  id: number;
  login: string;
  isBot: boolean;
}

export interface MergeRequestDetails extends MergeRequestSummary {
  headSha: string;
  author: ForgeUser;
}

/** The latest standing verdict of one reviewer on a merge request. */
export interface ReviewVerdict {
  user: ForgeUser;
  state: 'approved' | 'changes_requested' | 'commented';
  /** ISO time of the verdict, when the forge says. */
  at: string | null;
}

/** An emoji reaction on the merge request itself (👍 `up`, 👎 `down`, anything else `other`). */
export interface Reaction {
  user: ForgeUser;
  kind: 'up' | 'down' | 'other';
}

/**
 * Where a report lives in a pipeline's artifacts: the GitHub workflow-run artifact name or
 * the GitLab job name, and the file's path inside it.
 */
export interface ReportLocation {
  artifact: string;
  path: string;
}

export interface PipelineRef {
  /** GitHub workflow run id; GitLab pipeline id. */
  id: number;
  sha: string;
  /** The forge's own coverage figure (GitLab's `coverage`), when it has one. */
  coverage: number | null;
}

/** Builds the forge client for where an event came from. */
export interface ForgeDirectory {
  /** `installationId` is required for GitHub and ignored for GitLab. */
  get(kind: ForgeKind, installationId?: number): Promise<Forge>;
  configured(kind: ForgeKind): boolean;
}
