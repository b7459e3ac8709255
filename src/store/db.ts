/**
 * Opens the store named by DATABASE_URL: a file path (SQLite, the embedded default) or a
 * `postgres://` URL, and brings its schema up to date.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import type { Dialect } from './migrations/columns.js';
import { sqliteDialect } from './sqlite.js';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_rewards_recent.js';
import * as m0003 from './migrations/0003_issue-notices.js';
import * as m0003b from './migrations/0003_task-states.js';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Postgres only: the schema to use (created if missing); tests use one each. */
  schema?: string;
}

// bigint columns hold forge ids (comment ids pass 2^31); they stay well under 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/**
 * Migrations are imported statically: a file-based provider cannot load `.ts` migrations
 * under vitest, and a static list is also what a bundled build needs.
 */
function migrations(dialect: Dialect): MigrationProvider {
  const all: Record<string, Migration> = {
    '0001_init': { up: (db) => m0001.up(db, dialect) },
    '0002_rewards_recent': { up: (db) => m0002.up(db, dialect) },
    '0003_issue_notices': { up: (db) => m0003.up(db, dialect) },
    '0003_task_states': { up: (db) => m0003b.up(db, dialect) },
  };
  return { getMigrations: async () => all };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (isPostgresUrl(url)) {
    dialect = 'postgres';
    if (options.schema && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw new Error(`invalid Postgres schema name: ${options.schema}`);
    }
    if (options.schema) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`create schema if not exists ${options.schema}`);
      } finally {
        await admin.end();
      }
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    const path = url.replace(/^sqlite:(\/\/)?/, '');
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Kysely<Database>({ dialect: await sqliteDialect(new SQLite(path)) });
  }

  // Kysely must look for its own tables in the schema the store uses: by default it accepts
  // them in any schema it can see, and would skip migrating this one when another schema of
  // the same database (another app, another replica's test) has them.
  let migrationTableSchema: string | undefined;
  if (dialect === 'postgres') {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    migrationTableSchema = rows[0]?.schema ?? options.schema;
  }
  const migrator = new Migrator({
    db,
    provider: migrations(dialect),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  // A store that is up to date is only read: read-only commands never take the write lock.
  const pending = (await migrator.getMigrations()).some((m) => m.executedAt === undefined);
  const { error, results } = pending ? await migrator.migrateToLatest() : { error: undefined, results: [] };
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`store migration ${failed} failed: ${(error as Error).message}`);
  }
  return { db, dialect, close: () => db.destroy() };
}
