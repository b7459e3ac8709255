/**
 * The I/O around `decideTrigger`: bots are decided by name, humans by the permission the
 * forge reports (cached), and every decision goes to the audit log with what it was for.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Actor } from '../forges/event.js';
import type { ForgeDirectory } from '../forges/forge.js';
import { audit } from '../store/audit.js';
import type { Database } from '../store/schema.js';
import { PermissionLookup, type PermissionScope } from './lookup.js';
import { decideByIdentity, decideTrigger, type Role, type TriggerDecision } from './roles.js';

export interface PermissionGuardDeps {
  db: Kysely<Database>;
  config: Pick<Config, 'security'>;
  forges: ForgeDirectory;
  now?: () => number;
}

/** What the decision was asked for, as the audit log shows it (e.g. `{ action: 'labeled', issue }`). */
export type DecisionContext = Record<string, unknown> & { taskId?: number | null };

export class PermissionGuard {
  readonly #lookup: PermissionLookup;

  constructor(private readonly deps: PermissionGuardDeps) {
    this.#lookup = new PermissionLookup({ forges: deps.forges, ttlMs: deps.config.security.permission_cache_ttl_ms, now: deps.now });
  }

  async decide(scope: PermissionScope, actor: Actor, role: Role, context: DecisionContext): Promise<TriggerDecision> {
    const policy = this.deps.config.security;
    let decision = decideByIdentity(actor, policy, role);
    let cached: boolean | undefined;
    if (!decision) {
      const found = await this.#lookup.permissionOf(scope, { login: actor.login, id: actor.id });
      cached = found.cached;
      decision = decideTrigger(actor, found.permission, policy, role);
    }
    const { taskId, ...data } = context;
    await audit(this.deps.db, {
      event: decision.allowed ? 'permission.allowed' : 'permission.refused',
      actor: actor.login,
      taskId: taskId ?? null,
      data: {
        ...data,
        role,
        repo: scope.repo.fullName,
        ...(decision.allowed ? { basis: decision.basis } : { reason: decision.reason, message: decision.message }),
        ...('permission' in decision ? { permission: decision.permission } : {}),
        ...(cached === undefined ? {} : { cached }),
      },
    });
    return decision;
  }
}
