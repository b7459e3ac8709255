/** A fresh SQLite store with the shipped agents, and tasks to hang rewards on. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type { AgentFile } from '../../src/agents/schema.js';
import { loadAgents, loadConfig } from '../../src/config/load.js';
import { syncAgents } from '../../src/store/agents.js';
import { openStore, type Store } from '../../src/store/db.js';
import type { Database, NewTask, TaskRow } from '../../src/store/schema.js';
import { insertTask } from '../../src/store/tasks.js';
import { newTask } from '../helpers/tasks.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const shippedConfigPath = join(repoRoot, 'config/doom-rlvr.toml');
export const shippedAgentsDir = join(repoRoot, 'config/agents');

/** A scratch directory; on tmpfs when there is one, since the store fsyncs every commit. */
export function scratchDir(prefix = 'doom-found-'): string {
  return mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

let agents: AgentFile[] | undefined;
/** The shipped agent files, parsed once per test file. */
export const shippedAgents = (): AgentFile[] => (agents ??= loadAgents(shippedAgentsDir));

export interface TestStore extends Store {
  dir: string;
  path: string;
  dispose(): Promise<void>;
}

export async function freshStore(options: { withAgents?: boolean } = {}): Promise<TestStore> {
  const dir = scratchDir();
  const path = join(dir, 'x.db');
  const store = await openStore(path);
  if (options.withAgents !== false) await syncAgents(store.db, shippedAgents());
  return {
    ...store,
    dir,
    path,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const shippedConfig = () => loadConfig(shippedConfigPath).config;

let issueNumber = 1000;

export async function addTask(db: Kysely<Database>, over: Partial<NewTask> = {}): Promise<TaskRow> {
  const n = over.issue_number ?? ++issueNumber;
  const { task } = await insertTask(db, newTask({
    repo_id: 42,
    repo: 'acme/widgets',
    issue_number: n,
    issue_url: `https://github.com/acme/widgets/issues/${n}`,
    title: `Issue ${n}`,
    description: `Issue ${n}`,
    ...over,
  }));
  return task;
}
