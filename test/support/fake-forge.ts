/**
 * An in-memory Forge: one repository's issues, comments, labels, merge requests, reviews,
 * reactions and pipelines, held in plain maps. For service-level tests and benchmarks that
 * drive the real handlers (TaskService, RunCoordinator, Evaluator) without HTTP; the HTTP
 * clients have their own tests against nock (test/forges/).
 *
 * ```ts
 * const forge = new FakeForge();
 * forge.issues.set(23, { number: 23, state: 'open', labels: ['doom'], title: 't', body: '' });
 * const forges = forge.directory(); // a ForgeDirectory that always answers with `forge`
 * ```
 *
 * It has no git: `gitCredential` rejects, so what needs the repository's sources (the
 * complexity signal) is missing, the same way every time.
 */
import type {
  Forge,
  ForgeDirectory,
  IssueState,
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
} from '../../src/forges/forge.js';
import type { PipelineRun } from '../../src/forges/event.js';

export interface FakeMr extends MergeRequestDetails {
  labels: string[];
}

const key = (t: ThreadRef) => `${t.on}:${t.number}`;

export class FakeForge implements Forge {
  readonly kind: 'github' | 'gitlab';
  issues = new Map<number, IssueState>();
  /** Comments by thread (`issue:23`, `merge_request:1`), each with the marker it carries. */
  comments = new Map<string, { id: number; marker: string; body: string }[]>();
  mergeRequests: FakeMr[] = [];
  reviewsByMr = new Map<number, ReviewVerdict[]>();
  reactionsByMr = new Map<number, Reaction[]>();
  permissions = new Map<string, Permission>();
  /** Successful pipelines by ref, newest last. */
  pipelines: (PipelineRef & { ref: string })[] = [];
  /** Finished pipelines of merge requests' head commits, as `headPipelines` lists them (with their coverage, as a hook carries it). */
  headRuns: PipelineRun[] = [];
  /** Report texts by pipeline id. */
  reports = new Map<number, string>();
  private nextId = 1000;

  constructor(kind: 'github' | 'gitlab' = 'gitlab') {
    this.kind = kind;
  }

  directory(): ForgeDirectory {
    return { get: async () => this, configured: () => true };
  }

  /** How many comments the bot has on all threads. */
  commentCount(): number {
    return [...this.comments.values()].reduce((n, list) => n + list.length, 0);
  }

  async upsertComment(thread: ThreadRef, marker: string, body: string, knownId?: number | null): Promise<number> {
    const list = this.comments.get(key(thread)) ?? [];
    this.comments.set(key(thread), list);
    const found = list.find((c) => (knownId != null && c.id === knownId) || c.marker === marker);
    if (found) {
      found.body = body;
      return found.id;
    }
    const id = this.nextId++;
    list.push({ id, marker, body });
    return id;
  }

  async addLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    const target = thread.on === 'issue' ? this.issues.get(thread.number) : this.mergeRequests.find((m) => m.number === thread.number);
    if (target) target.labels = [...new Set([...target.labels, ...labels])];
  }

  async removeLabels(thread: ThreadRef, labels: string[]): Promise<void> {
    const target = thread.on === 'issue' ? this.issues.get(thread.number) : this.mergeRequests.find((m) => m.number === thread.number);
    if (target) target.labels = target.labels.filter((l) => !labels.includes(l));
  }

  async getIssue(_repo: RepoLocator, number: number): Promise<IssueState | null> {
    const issue = this.issues.get(number);
    return issue ? structuredClone(issue) : null;
  }

  async permissionOf(_repo: RepoLocator, user: UserRef): Promise<Permission> {
    return this.permissions.get(user.login) ?? 'none';
  }

  async findMergeRequestByBranch(_repo: RepoLocator, branch: string): Promise<MergeRequestSummary | null> {
    return this.mergeRequests.find((m) => m.sourceBranch === branch && m.state === 'open') ?? null;
  }

  async openMergeRequest(_repo: RepoLocator, request: OpenMergeRequest): Promise<MergeRequestSummary> {
    const number = this.mergeRequests.length + 1;
    const mr: FakeMr = {
      number,
      url: `https://forge.example/mr/${number}`,
      title: request.title,
      body: request.body,
      sourceBranch: request.sourceBranch,
      targetBranch: request.targetBranch,
      state: 'open',
      headSha: '',
      author: { id: 1, login: 'doom-rlvr[bot]', isBot: true },
      labels: [...request.labels],
    };
    this.mergeRequests.push(mr);
    return mr;
  }

  async updateMergeRequest(_repo: RepoLocator, number: number, patch: { title?: string; body?: string }): Promise<MergeRequestSummary> {
    const mr = this.mergeRequests.find((m) => m.number === number);
    if (!mr) throw new Error(`no merge request ${number}`);
    Object.assign(mr, patch);
    return mr;
  }

  async gitCredential(): Promise<{ username: string; password: string }> {
    throw new Error('the in-memory forge has no git');
  }

  /** The fake's pipelines carry their coverage in the event, as GitHub's do: none from the API. */
  async pipelineCoverage(): Promise<number | null> {
    return null;
  }

  async getMergeRequest(_repo: RepoLocator, number: number): Promise<MergeRequestDetails> {
    const mr = this.mergeRequests.find((m) => m.number === number);
    if (!mr) throw new Error(`no merge request ${number}`);
    return structuredClone(mr);
  }

  async reviews(_repo: RepoLocator, number: number): Promise<ReviewVerdict[]> {
    return structuredClone(this.reviewsByMr.get(number) ?? []);
  }

  async reactions(_repo: RepoLocator, number: number): Promise<Reaction[]> {
    return structuredClone(this.reactionsByMr.get(number) ?? []);
  }

  async report(_repo: RepoLocator, pipelineId: number, _locations: ReportLocation[]): Promise<string | null> {
    return this.reports.get(pipelineId) ?? null;
  }

  async latestSuccessfulPipeline(_repo: RepoLocator, ref: string): Promise<PipelineRef | null> {
    const found = this.pipelines.filter((p) => p.ref === ref).at(-1);
    return found ? { id: found.id, sha: found.sha, coverage: found.coverage } : null;
  }

  async headPipelines(_repo: RepoLocator, mr: { number: number; headSha: string }): Promise<PipelineRun[]> {
    return structuredClone(this.headRuns.filter((r) => r.sha === mr.headSha));
  }
}
