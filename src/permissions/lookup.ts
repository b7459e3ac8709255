/**
 * The actor's permission as the forge says it, remembered for a short while: one label
 * storm or a run of edits asks the forge once, and a revoked permission stops counting
 * within the TTL. Only answers are remembered; a failed lookup is asked again next time.
 */
import type { ForgeKind } from '../forges/event.js';
import type { ForgeDirectory, Permission, RepoLocator, UserRef } from '../forges/forge.js';

export interface PermissionScope {
  forge: ForgeKind;
  /** GitHub App installation; absent on GitLab. */
  installationId?: number;
  repo: RepoLocator;
}

export interface PermissionLookupOptions {
  forges: ForgeDirectory;
  ttlMs: number;
  /** Milliseconds on a monotonic clock; injectable so tests move time without waiting. */
  now?: () => number;
  /** Entries kept at most; the oldest goes first. */
  maxEntries?: number;
}

export class PermissionLookup {
  readonly #cache = new Map<string, { permission: Permission; until: number }>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(private readonly options: PermissionLookupOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#max = options.maxEntries ?? 10_000;
  }

  /** The permission and whether it came from the cache (for the audit log). */
  async permissionOf(scope: PermissionScope, user: UserRef): Promise<{ permission: Permission; cached: boolean }> {
    // Repository ids are unique per forge host (GitHub) or per GitLab instance: with the forge
    // they name one repository. Logins compare case-insensitively on both forges.
    const key = `${scope.forge}:${scope.repo.id}:${user.login.toLowerCase()}`;
    const hit = this.#cache.get(key);
    if (hit && hit.until > this.#now()) return { permission: hit.permission, cached: true };
    this.#cache.delete(key);

    const forge = await this.options.forges.get(scope.forge, scope.installationId);
    const permission = await forge.permissionOf(scope.repo, user);
    if (this.options.ttlMs > 0) {
      this.#cache.set(key, { permission, until: this.#now() + this.options.ttlMs });
      if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    }
    return { permission, cached: false };
  }
}
