/**
 * Opens the store named by DATABASE_URL: a file path (SQLite, the embedded default) or a
 * `postgres://` URL, and brings its schema up to date. The store carries its health
 * (src/store/health.ts): on Postgres a lost connection is reported there, never thrown at
 * the process as an unhandled 'error' event.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider, type PostgresPool } from 'kysely';
import pg from 'pg';
import type { Logger } from '../log.js';
import { StoreHealth } from './health.js';
import type { Database } from './schema.js';
import type { Dialect } from './migrations/columns.js';
import { sqliteDialect } from './sqlite.js';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_rewards_recent.js';
import * as m0003 from './migrations/0003_issue-notices.js';
import * as m0004 from './migrations/0004_kept_work.js';
import * as m0005 from './migrations/0005_reward_attempts.js';
import * as m0006 from './migrations/0006_reward_guards.js';
import * as m0007 from './migrations/0007_local_forge.js';
import * as m0008 from './migrations/0008_command_outcomes.js';
import * as m0009 from './migrations/0009_task_states.js';
import * as m0010 from './migrations/0010_routing.js';
import * as m0011 from './migrations/0011_commands.js';
import * as m0012 from './migrations/0012_rounds.js';
import * as m0013 from './migrations/0013_local.js';
import * as m0014 from './migrations/0014_pipeline.js';
import * as m0015 from './migrations/0015_issue_change_times.js';
import * as m0016 from './migrations/0016_task_usd_budget.js';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  health: StoreHealth;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Postgres only: the schema to use (created if missing); tests use one each. */
  schema?: string;
  /** Where lost connections and recoveries are logged. */
  log?: Logger;
  /** How often an unreachable store is probed (tests shorten it). */
  probeBackoff?: { initialMs: number; maxMs: number };
}

/** How long a new Postgres connection may take before the store counts as unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

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
    '0004_kept_work': { up: (db) => m0004.up(db, dialect) },
    '0005_reward_attempts': { up: (db) => m0005.up(db, dialect) },
    '0006_reward_guards': { up: (db) => m0006.up(db, dialect) },
    '0007_local_forge': { up: (db) => m0007.up(db, dialect) },
    '0008_command_outcomes': { up: (db) => m0008.up(db, dialect) },
    '0009_task_states': { up: (db) => m0009.up(db, dialect) },
    '0010_routing': { up: (db) => m0010.up(db, dialect) },
    '0011_commands': { up: (db) => m0011.up(db, dialect) },
    '0012_rounds': { up: (db) => m0012.up(db, dialect) },
    '0013_local': { up: (db) => m0013.up(db, dialect) },
    '0014_pipeline': { up: (db) => m0014.up(db, dialect) },
    '0015_issue_change_times': { up: (db) => m0015.up(db) },
    '0016_task_usd_budget': { up: (db) => m0016.up(db) },
  };
  return { getMigrations: async () => all };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/**
 * A pg pool whose failures reach `health`. node-postgres emits 'error' on a client whose
 * connection ends (a server restart ends them all), on the pool for an idle client and on the
 * client itself for one in use: with no listener either one kills the process. Kysely
 * listens to neither, so both are listened to here.
 */
function watchedPool(pool: pg.Pool, health: StoreHealth): PostgresPool {
  pool.on('error', (error) => health.lost(error));
  pool.on('connect', (client) => client.on('error', (error) => health.lost(error)));
  return {
    async connect() {
      try {
        return await pool.connect();
      } catch (error) {
        health.lost(error);
        throw error;
      }
    },
    end: () => pool.end(),
  };
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  // The probe runs on the store it watches; `db` is set before the first probe can run.
  const health = new StoreHealth({
    probe: async () => {
      await sql`select 1`.execute(db);
    },
    ...(options.log ? { log: options.log } : {}),
    ...(options.probeBackoff ? { backoff: options.probeBackoff } : {}),
  });
  if (isPostgresUrl(url)) {
    dialect = 'postgres';
    if (options.schema && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw new Error(`invalid Postgres schema name: ${options.schema}`);
    }
    if (options.schema) {
      const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      admin.on('error', (error) => health.lost(error));
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
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: watchedPool(pool, health) }),
      // A query cut off by a server shutdown fails before the connection's 'error' event
      // arrives: classify it here, so the caller already sees the store marked unreachable.
      log: (event) => {
        if (event.level === 'error') health.observe(event.error);
      },
    });
  } else {
    dialect = 'sqlite';
    const path = url.replace(/^sqlite:(\/\/)?/, '');
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Kysely<Database>({ dialect: await sqliteDialect(new SQLite(path)) });
  }

  try {
    await migrate(db, dialect, options.schema);
  } catch (error) {
    health.close();
    await db.destroy();
    throw error;
  }
  return {
    db,
    dialect,
    health,
    close: async () => {
      health.close();
      await db.destroy();
    },
  };
}

async function migrate(db: Kysely<Database>, dialect: Dialect, schema: string | undefined): Promise<void> {
  // Kysely must look for its own tables in the schema the store uses: by default it accepts
  // them in any schema it can see, and would skip migrating this one when another schema of
  // the same database (another app, another replica's test) has them.
  let migrationTableSchema: string | undefined;
  if (dialect === 'postgres') {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    migrationTableSchema = rows[0]?.schema ?? schema;
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
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`store migration ${failed} failed: ${(error as Error).message}`);
  }
}
