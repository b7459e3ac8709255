/**
 * Hands out the Forge for where an event came from. One GitHubForge per installation (its
 * Octokit renews the installation token itself) and one GitLabForge for the configured host;
 * no module-level singletons, so tests and multiple servers do not share state.
 */
import type { Probot } from 'probot';
import type { ForgeKind } from './event.js';
import type { Forge, ForgeDirectory } from './forge.js';
import { GitHubForge } from './github/client.js';
import { GitLabForge } from './gitlab/client.js';
import type { RetryOptions } from './http-retry.js';
import { LocalForge } from './local/forge.js';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export interface ForgeDirectoryOptions {
  github?: { probot: Probot };
  gitlab?: { url: string; token: string; fetch?: typeof fetch; retry?: RetryOptions };
  /** The `local` forge keeps its state in the store: always available where a store is. */
  local?: { db: Kysely<Database> };
}

const HOW_TO_CONFIGURE: Record<ForgeKind, string> = {
  github: 'GitHub is not configured: set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET',
  gitlab: 'GitLab is not configured: set GITLAB_URL, GITLAB_TOKEN and GITLAB_WEBHOOK_SECRET',
  local: 'the local forge needs a store',
};

export function createForgeDirectory(options: ForgeDirectoryOptions): ForgeDirectory {
  const installations = new Map<number, Promise<GitHubForge>>();
  let gitlab: GitLabForge | undefined;
  const local = options.local ? new LocalForge(options.local.db) : undefined;

  const github = (installationId: number | undefined): Promise<GitHubForge> => {
    const probot = options.github?.probot;
    if (!probot) throw new Error(HOW_TO_CONFIGURE.github);
    if (installationId === undefined) throw new Error('GitHub: an installation id is required');
    let forge = installations.get(installationId);
    if (!forge) {
      forge = probot.auth(installationId).then((octokit) => new GitHubForge(octokit));
      // A failed authentication must not stick: the next event tries again.
      forge.catch(() => installations.delete(installationId));
      installations.set(installationId, forge);
    }
    return forge;
  };

  return {
    async get(kind: ForgeKind, installationId?: number): Promise<Forge> {
      if (kind === 'github') return github(installationId);
      if (kind === 'local') {
        if (!local) throw new Error(HOW_TO_CONFIGURE.local);
        return local;
      }
      if (!options.gitlab) throw new Error(HOW_TO_CONFIGURE.gitlab);
      gitlab ??= new GitLabForge(options.gitlab);
      return gitlab;
    },
    configured(kind: ForgeKind): boolean {
      if (kind === 'local') return local !== undefined;
      return kind === 'github' ? options.github !== undefined : options.gitlab !== undefined;
    },
  };
}
