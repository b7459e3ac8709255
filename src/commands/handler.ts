/**
 * Slash commands in comments: parse, acknowledge, check each command's role with the
 * permission guard, run it at most once, and answer with one reply per comment, edited in
 * place (found again by its marker). Bots, the bot itself included, are ignored, and so is
 * any comment carrying one of the bot's markers (its own words, whoever the forge says posted
 * them); edited comments never reach here (the normalizers pass only new ones). A comment
 * without a `/doom` line gets nothing, not even a reaction.
 *
 * Read from: GitHub issue and PR comments, review bodies and inline review comments; GitLab
 * notes on issues and MRs, discussion replies and diff notes included (the normalizers).
 */
import type { Kysely } from 'kysely';
import { ExpectedError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { RateLimitedError } from '../forges/errors.js';
import type { CommentEvent } from '../forges/event.js';
import type { CommentRef, Forge, ForgeDirectory, ThreadRef } from '../forges/forge.js';
import type { Logger } from '../log.js';
import type { PermissionGuard } from '../permissions/guard.js';
import { beginCommand, commandOutcomes, finishCommand, type CommentKey } from '../store/commands.js';
import type { Database } from '../store/schema.js';
import { handledActions, type CommandAction, type CommandActions, type CommandContext, type CommandServices } from './actions.js';
import { parseComment, type Command, type CommandName, type Parsed } from './parse.js';
import { commandMarker, helpText, renderCommentError, renderReply, type Outcome } from './reply.js';
import { roleFor } from './roles.js';
import type { Revisions } from '../tasks/revisions.js';

export interface CommandHandlerDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'tiers' | 'commands'>;
  forges: ForgeDirectory;
  permissions: Pick<PermissionGuard, 'decide'>;
  log: Logger;
  services: CommandServices;
  /** The commands carried out; the default is every handled one. */
  actions?: CommandActions;
  /** The review loop, for `/doom revise`; without it `revise` says it cannot run here. */
  revisions?: Pick<Revisions, 'revise'>;
}

/** Every marker the bot puts in its own comments begins so (a task comment, a reply, a report). */
const BOT_MARKER = '<!-- doom-rlvr:';

export class CommandHandler {
  readonly #actions: CommandActions;

  constructor(private readonly deps: CommandHandlerDeps) {
    this.#actions = deps.actions ?? handledActions;
  }

  async onComment(event: CommentEvent): Promise<void> {
    const author = event.comment.author;
    if (author.isBot || event.sender.isBot || event.comment.body.includes(BOT_MARKER)) return;
    const parsed = parseComment(event.comment.body);
    if (parsed.kind === 'ok' && parsed.commands.length === 0) return;

    const forge = await this.deps.forges.get(event.forge, event.installationId);
    const thread: ThreadRef = { repo: { id: event.repo.id, fullName: event.repo.fullName }, number: event.number, on: event.target };
    const comment = { id: event.comment.id, kind: event.comment.kind };
    await this.acknowledge(forge, thread, comment);

    const body =
      parsed.kind === 'error'
        ? renderCommentError(author.login, parsed.problem)
        : renderReply(author.login, await this.outcomes(event, parsed.commands), this.help());
    await forge.upsertComment(thread, commandMarker(comment), body);
  }

  /** The reaction is a courtesy: its failure does not keep the reply back (a rate limit does). */
  private async acknowledge(forge: Forge, thread: ThreadRef, comment: CommentRef): Promise<void> {
    try {
      await forge.acknowledgeComment?.(thread, comment);
    } catch (error) {
      if (error instanceof RateLimitedError) throw error;
      this.deps.log.warn({ err: error, commentId: comment.id }, 'could not react to a command comment');
    }
  }

  private async outcomes(event: CommentEvent, commands: Parsed[]): Promise<Array<{ line: number; outcome: Outcome }>> {
    const key: CommentKey = { forge: event.forge, repoId: event.repo.id, kind: event.comment.kind, commentId: event.comment.id };
    const earlier = await commandOutcomes(this.deps.db, key);
    const results: Array<{ line: number; outcome: Outcome }> = [];
    for (const parsed of commands) {
      results.push({ line: parsed.line, outcome: await this.outcome(event, key, parsed, earlier) });
    }
    return results;
  }

  private async outcome(event: CommentEvent, key: CommentKey, parsed: Parsed, earlier: Awaited<ReturnType<typeof commandOutcomes>>): Promise<Outcome> {
    if (parsed.kind === 'unknown') return { kind: 'unknown', name: parsed.name };
    if (parsed.kind === 'usage') return { kind: 'usage', name: parsed.name, problem: parsed.problem };
    const { command, line } = parsed;
    const before = earlier.get(line);
    if (before?.state === 'done' && before.reply !== null) return { kind: 'done', name: command.name, text: before.reply };
    if (before) return { kind: 'interrupted', name: command.name };

    const role = roleFor(this.deps.config, command.name);
    const scope = { forge: event.forge, repo: { id: event.repo.id, fullName: event.repo.fullName }, ...(event.installationId ? { installationId: event.installationId } : {}) };
    const decision = await this.deps.permissions.decide(scope, event.comment.author, role, {
      action: 'command',
      command: command.name,
      [event.target]: event.number,
      comment: event.comment.id,
    });
    if (!decision.allowed) return { kind: 'refused', name: command.name, role, message: decision.message };

    const action = this.#actions[command.name] as CommandAction | undefined;
    if (!action) return { kind: 'not-handled', name: command.name };
    return this.run(action, command, event, key, line);
  }

  private async run(action: CommandAction, command: Command, event: CommentEvent, key: CommentKey, line: number): Promise<Outcome> {
    const actor = `${event.forge}:${event.comment.author.login}`;
    if (action.effect && !(await beginCommand(this.deps.db, key, line, command.name, actor))) {
      return { kind: 'interrupted', name: command.name };
    }
    const ctx: CommandContext = {
      db: this.deps.db,
      config: this.deps.config,
      event,
      thread: { forge: event.forge, repoId: event.repo.id, on: event.target, number: event.number },
      actor,
      help: this.help(),
      services: this.deps.services,
      revise: this.deps.revisions
        ? (instructions) =>
            this.deps.revisions!.revise({
              forge: event.forge as 'github' | 'gitlab',
              ...(event.installationId ? { installationId: event.installationId } : {}),
              repo: { id: event.repo.id, fullName: event.repo.fullName },
              on: event.target,
              number: event.number,
              author: event.comment.author,
              commentId: event.comment.id,
              line,
              instructions,
            })
        : undefined,
    };
    let outcome: Outcome;
    try {
      outcome = { kind: 'done', name: command.name, text: await action.run(command as never, ctx) };
    } catch (error) {
      if (!(error instanceof ExpectedError)) throw error;
      outcome = { kind: 'failed', name: command.name, message: error.message };
    }
    if (action.effect) {
      const reply = outcome.kind === 'done' ? outcome.text : `did nothing: ${outcome.kind === 'failed' ? outcome.message : ''}`;
      await finishCommand(this.deps.db, key, line, reply);
    }
    return outcome;
  }

  private help(): string {
    return helpText(this.deps.config, new Set(Object.keys(this.#actions) as CommandName[]));
  }
}
