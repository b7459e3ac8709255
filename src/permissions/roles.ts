/**
 * Who may act on the bot: one rule, written once, for labels and issue edits today and for
 * slash commands later. Pure: the caller looks up the actor's permission (see
 * `PermissionLookup`) and passes it in.
 *
 * ```ts
 * const early = decideByIdentity(event.sender, config.security);        // bots: no lookup
 * const decision = early ?? decideTrigger(event.sender, await lookup.permissionOf(...), config.security);
 * if (!decision.allowed) return refuse(decision.reason);
 * ```
 *
 * A role is what an action needs: `write` to start or change a task (GitHub write, maintain
 * or admin; GitLab Developer and up), `maintain` to manage agents (GitHub maintain or admin;
 * GitLab Maintainer and up).
 */
import type { Actor } from '../forges/event.js';
import type { Permission } from '../forges/forge.js';

export type Role = 'write' | 'maintain';

/** The security settings the rule reads (`[security]` in the config). */
export interface TriggerPolicy {
  /** Bot logins that act as permitted users, compared case-insensitively. */
  allowed_bots: readonly string[];
}

const RANK: Record<Permission, number> = { none: 0, read: 1, write: 2, maintain: 3, admin: 4 };
const NEEDS: Record<Role, Permission> = { write: 'write', maintain: 'maintain' };

export function hasRole(permission: Permission, role: Role): boolean {
  return RANK[permission] >= RANK[NEEDS[role]];
}

export type TriggerDecision =
  | { allowed: true; actor: string; role: Role; basis: 'permission'; permission: Permission }
  | { allowed: true; actor: string; role: Role; basis: 'allowed_bot' }
  | { allowed: false; actor: string; role: Role; reason: 'bot' | 'permission'; permission: Permission | null; message: string };

/**
 * The decision that needs no lookup: a bot is decided by name alone (an App bot is no
 * collaborator, so its permission says nothing). Null for a human: look the permission up.
 */
export function decideByIdentity(actor: Actor, policy: TriggerPolicy, role: Role = 'write'): TriggerDecision | null {
  if (!actor.isBot) return null;
  const login = actor.login.toLowerCase();
  if (policy.allowed_bots.some((b) => b.toLowerCase() === login)) {
    return { allowed: true, actor: actor.login, role, basis: 'allowed_bot' };
  }
  return {
    allowed: false,
    actor: actor.login,
    role,
    reason: 'bot',
    permission: null,
    message: `${actor.login} is a bot that is not in [security] allowed_bots`,
  };
}

/** May `actor`, holding `permission` on the repository, do what `role` allows? */
export function decideTrigger(actor: Actor, permission: Permission, policy: TriggerPolicy, role: Role = 'write'): TriggerDecision {
  const byIdentity = decideByIdentity(actor, policy, role);
  if (byIdentity) return byIdentity;
  if (hasRole(permission, role)) return { allowed: true, actor: actor.login, role, basis: 'permission', permission };
  return {
    allowed: false,
    actor: actor.login,
    role,
    reason: 'permission',
    permission,
    message: `${actor.login} has ${permission === 'none' ? 'no' : `only ${permission}`} access; ${role} access is needed`,
  };
}

/** Who may do what `role` allows, in words for a public comment. */
export function whoMay(role: Role): string {
  return role === 'write'
    ? 'people with write access to this repository (GitHub: write, maintain or admin; GitLab: Developer or above)'
    : 'maintainers of this repository (GitHub: maintain or admin; GitLab: Maintainer or above)';
}
