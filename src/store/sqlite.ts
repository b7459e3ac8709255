/**
 * SQLite for several processes on one file: the server and any number of CLI commands.
 *
 * Kysely begins transactions with a plain (deferred) `begin`, which takes the write lock only
 * at the first write. In WAL mode a transaction that read first and then finds another writer
 * gets SQLITE_BUSY at once, without waiting on the busy timeout: 30 parallel `doom status`
 * runs crashed that way. `begin immediate` takes the write lock up front, where the busy
 * timeout applies; when even that runs out, the begin is retried (nothing has been done yet,
 * so a retry is always safe) before the store gives up with a `StoreBusyError`.
 */
import type Database from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';
import { ExpectedError } from '../errors.js';

/** How long one statement waits for another process's lock, in SQLite itself (synchronous). */
export const BUSY_TIMEOUT_MS = 2000;
const BEGIN_ATTEMPTS = 5;

/** The store stayed locked by another process for longer than the bot waits. */
export class StoreBusyError extends ExpectedError {}

export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

function busyError(cause: unknown, waitedMs: number): StoreBusyError {
  return new StoreBusyError(
    `the store is locked by another process (waited ${(waitedMs / 1000).toFixed(1)} s); try again in a moment`,
    { cause },
  );
}

/** Runs `work`, retrying it with backoff while SQLite answers busy; `work` must be safe to repeat. */
export async function retryWhileBusy<T>(work: () => T | Promise<T>, attempts = BEGIN_ATTEMPTS): Promise<T> {
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isBusyError(error)) throw error;
      waited += BUSY_TIMEOUT_MS;
      if (attempt >= attempts) throw busyError(error, waited);
      const pause = 25 * 2 ** attempt * (0.5 + Math.random());
      waited += pause;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await retryWhileBusy(() => connection.executeQuery(CompiledQuery.raw('begin immediate')));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/** Sets the connection up for sharing the file, waiting out a concurrent opener's lock. */
export async function sqliteDialect(sqlite: Database.Database): Promise<SqliteDialect> {
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Switching a new file to WAL needs a moment of exclusive access, which a concurrent opener may hold.
  await retryWhileBusy(() => sqlite.pragma('journal_mode = WAL'));
  // FULL: a delivery answered 202 is on disk even if the machine loses power.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  return new ImmediateSqliteDialect({ database: sqlite });
}
