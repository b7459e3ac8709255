/**
 * Asks the store for a round and acts once on its answer: a started round is said on the
 * merge request and handed to the executor (`task.assigned`); a capped one is said once (the
 * cap comment has its own marker); a busy or refused one is logged; a duplicate is nothing.
 * Shared by the review loop (revisions.ts) and the CI loop (ci-fixes.ts).
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { EventSink } from '../events.js';
import type { Forge } from '../forges/forge.js';
import type { Logger } from '../log.js';
import type { Database, RoundKind, TaskRow } from '../store/schema.js';
import { startRound, type RoundStart } from '../store/transitions.js';
import { capMarker, capText, roundMarker, roundStartedText } from './round-reply.js';
import type { RoundInput } from './rounds.js';
import { KeyedMutex } from '../util/mutex.js';

export interface RoundRequestsDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'review' | 'ci_fix'>;
  events: EventSink;
  log: Logger;
}

export interface RoundRequest {
  task: TaskRow;
  forge: Forge;
  kind: RoundKind;
  triggerKey: string;
  feedback: RoundInput;
  actor: string;
}

export class RoundRequests {
  /** One request per task at a time: two deliveries of one pipeline must not both post the cap notice. */
  private readonly lock = new KeyedMutex();

  constructor(private readonly deps: RoundRequestsDeps) {}

  maxRounds(kind: RoundKind): number {
    return kind === 'revision' ? this.deps.config.review.max_rounds : this.deps.config.ci_fix.max_rounds;
  }

  async request(r: RoundRequest): Promise<RoundStart> {
    return this.lock.run(String(r.task.id), () => this.requestLocked(r));
  }

  private async requestLocked(r: RoundRequest): Promise<RoundStart> {
    const max = this.maxRounds(r.kind);
    const result = await startRound(this.deps.db, { taskId: r.task.id, kind: r.kind, triggerKey: r.triggerKey, feedback: r.feedback, maxRounds: max, actor: r.actor });
    const { decision, run } = result;
    const thread = { repo: { id: r.task.repo_id, fullName: r.task.repo }, number: r.task.pr_number ?? 0, on: 'merge_request' as const };
    switch (decision.kind) {
      case 'start': {
        await this.deps.events.emit({ kind: 'task.assigned', taskId: r.task.id, agent: run!.agent_name });
        const view = { kind: r.kind, round: decision.round, maxRounds: max, agent: run!.agent_name, requestedBy: r.feedback.requestedBy };
        await this.say(r.forge, thread, roundMarker(r.task.id, run!.id), roundStartedText(view));
        break;
      }
      case 'capped':
        // Not swallowed: a person must hear of the cap, so a failed comment fails the delivery, and its retry says it (once: the marker).
        await r.forge.upsertComment(thread, capMarker(r.task.id, r.kind), capText(r.kind, decision.rounds, max));
        break;
      case 'busy':
      case 'refuse':
        this.deps.log.info({ taskId: r.task.id, kind: r.kind, trigger: r.triggerKey, why: decision.why }, 'round not started');
        break;
      case 'duplicate':
        break;
    }
    return result;
  }

  /** What the bot says about a round is a courtesy once the round is stored: a forge error is logged. */
  private async say(forge: Forge, thread: Parameters<Forge['upsertComment']>[0], marker: string, body: string): Promise<void> {
    try {
      await forge.upsertComment(thread, marker, body);
    } catch (error) {
      this.deps.log.warn({ err: error, number: thread.number }, 'could not comment on the merge request about a round');
    }
  }
}
