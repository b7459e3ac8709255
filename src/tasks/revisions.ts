/**
 * The review loop: a person with write access asks for changes on a bot merge request, and the
 * agent that opened it runs again on its branch with what they wrote. What asks:
 * - GitHub: a submitted `changes_requested` review (its body and inline comments are read from
 *   the forge, with file and line);
 * - GitLab: an unapproval, a reviewer state of "requested changes", or a diff or discussion
 *   note opening a thread (the merge request's unresolved discussion notes are what it quotes);
 * - `/doom revise <instructions>` on either (commands/actions.ts).
 * The forge is read first (the MR must be open; the reviewer's access is checked and audited),
 * then rounds.ts decides in the store whether a round starts.
 */
import type { Kysely } from 'kysely';
import { ExpectedError } from '../errors.js';
import { parseComment } from '../commands/parse.js';
import type { Actor, CommentEvent, ForgeKind, ReviewEvent } from '../forges/event.js';
import type { ForgeDirectory, ReviewComment } from '../forges/forge.js';
import type { Logger } from '../log.js';
import type { PermissionGuard } from '../permissions/guard.js';
import { findTaskByThread } from '../store/commands.js';
import type { Database } from '../store/schema.js';
import { capText } from './round-reply.js';
import type { RoundRequests } from './round-requests.js';
import type { RoundComment } from './rounds.js';

export interface RevisionsDeps {
  db: Kysely<Database>;
  forges: ForgeDirectory;
  permissions: Pick<PermissionGuard, 'decide'>;
  rounds: RoundRequests;
  log: Logger;
}

/** Where a `/doom revise` came from. */
export interface ReviseInput {
  forge: 'github' | 'gitlab';
  installationId?: number;
  repo: { id: number; fullName: string };
  on: 'issue' | 'merge_request';
  number: number;
  author: Actor;
  commentId: number;
  line: number;
  instructions: string;
}

const asComment = (c: ReviewComment): RoundComment => ({ author: c.author.login, body: c.body, path: c.path, line: c.line });

export class Revisions {
  constructor(private readonly deps: RevisionsDeps) {}

  async onReview(event: ReviewEvent): Promise<void> {
    if (event.action !== 'submitted' || (event.state !== 'changes_requested' && event.state !== 'unapproved')) return;
    if (event.reviewer.isBot || event.sender.isBot || event.forge === 'local') return;
    await this.requestRevision(event, event.number, event.reviewer, {
      what: event.state === 'unapproved' ? 'unapproval' : 'review',
      ...(event.reviewId !== undefined ? { reviewId: event.reviewId } : {}),
    });
  }

  /**
   * A GitLab diff or discussion note on a bot MR opens a thread to resolve: a request for
   * changes. Notes published together (a submitted GitLab review) start one round: the key is
   * the head commit, and the round quotes every unresolved thread. A note with a `/doom`
   * command is the command handler's.
   */
  async onComment(event: CommentEvent): Promise<void> {
    if (!event.comment.reviewNote || event.target !== 'merge_request' || event.forge !== 'gitlab') return;
    if (event.comment.author.isBot || event.sender.isBot) return;
    const parsed = parseComment(event.comment.body);
    if (parsed.kind === 'error' || parsed.commands.length > 0) return;
    await this.requestRevision(event, event.number, event.comment.author, { what: 'review comments' });
  }

  private async requestRevision(
    event: { forge: ForgeKind; installationId?: number | undefined; repo: { id: number; fullName: string } },
    number: number,
    reviewer: Actor,
    how: { what: string; reviewId?: number },
  ): Promise<void> {
    const task = await findTaskByThread(this.deps.db, { forge: event.forge, repoId: event.repo.id, on: 'merge_request', number });
    if (!task || task.pr_number === null) return;
    const forge = await this.deps.forges.get(event.forge, event.installationId);
    const repo = { id: event.repo.id, fullName: event.repo.fullName };
    const mr = await forge.getMergeRequest(repo, number);
    if (mr.state !== 'open') return;
    const scope = { forge: event.forge, repo, ...(event.installationId ? { installationId: event.installationId } : {}) };
    const decision = await this.deps.permissions.decide(scope, reviewer, 'write', { action: 'request_changes', merge_request: number, taskId: task.id });
    if (!decision.allowed) return;
    const comments = (await forge.reviewComments?.(repo, number, how.reviewId)) ?? [];
    await this.deps.rounds.request({
      task,
      forge,
      kind: 'revision',
      // A GitHub review is one request; GitLab's verdicts and notes are not one: one round per head commit.
      triggerKey: how.reviewId !== undefined ? `review:${how.reviewId}` : `review:${mr.headSha}`,
      feedback: { requestedBy: `@${reviewer.login}'s ${how.what}`, comments: comments.filter((c) => !c.author.isBot).map(asComment), job: null, inheritedJobs: [] },
      actor: `${event.forge}:${reviewer.login}`,
    });
  }

  /** `/doom revise <instructions>`: the reply text, or an ExpectedError saying why nothing started. */
  async revise(input: ReviseInput): Promise<string> {
    const task = await findTaskByThread(this.deps.db, { forge: input.forge, repoId: input.repo.id, on: input.on, number: input.number });
    if (!task) throw new ExpectedError(`no task for this ${input.on === 'issue' ? 'issue' : 'merge request'}`);
    if (task.pr_number === null) throw new ExpectedError('the task has no merge request yet');
    const forge = await this.deps.forges.get(input.forge, input.installationId);
    const mr = await forge.getMergeRequest(input.repo, task.pr_number);
    if (mr.state !== 'open') throw new ExpectedError(`merge request !${task.pr_number} is ${mr.state}`);
    const { decision, run } = await this.deps.rounds.request({
      task,
      forge,
      kind: 'revision',
      triggerKey: `command:${input.commentId}:${input.line}`,
      feedback: {
        requestedBy: `/doom revise by @${input.author.login}`,
        comments: [{ author: input.author.login, body: input.instructions, path: null, line: null }],
        job: null,
        inheritedJobs: [],
      },
      actor: `${input.forge}:${input.author.login}`,
    });
    const max = this.deps.rounds.maxRounds('revision');
    switch (decision.kind) {
      case 'start':
        return `Revision round ${decision.round} of ${max} started: \`${run!.agent_name}\` works on the merge request's branch from its current head; what it pushes is answered on the merge request.`;
      case 'capped':
        throw new ExpectedError(capText('revision', decision.rounds, max));
      case 'duplicate':
        return 'This command already started a revision round.';
      default:
        throw new ExpectedError(decision.why);
    }
  }
}
