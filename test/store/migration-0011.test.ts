/**
 * Migration 0011 on a store that already holds command outcomes: the table is rebuilt with
 * `comment_kind` in its key, old rows become issue comments and notes, and a review body with
 * the same id as an issue comment gets a row of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, type Migration } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { beginCommand, commandOutcomes, recordFeedback, feedbackOf } from '../../src/store/commands.js';
import * as m0001 from '../../src/store/migrations/0001_init.js';
import * as m0002 from '../../src/store/migrations/0002_rewards_recent.js';
import * as m0003 from '../../src/store/migrations/0003_issue-notices.js';
import * as m0004 from '../../src/store/migrations/0004_kept_work.js';
import * as m0005 from '../../src/store/migrations/0005_reward_attempts.js';
import * as m0006 from '../../src/store/migrations/0006_reward_guards.js';
import * as m0007 from '../../src/store/migrations/0007_local_forge.js';
import * as m0008 from '../../src/store/migrations/0008_command_outcomes.js';
import * as m0009 from '../../src/store/migrations/0009_task_states.js';
import type { Dialect } from '../../src/store/migrations/columns.js';
import { sqliteDialect } from '../../src/store/sqlite.js';

interface Target {
  dialect: Dialect;
  url: string;
  schema?: string;
  old(): Promise<Kysely<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the pre-0005 schema has no type
  dispose(): Promise<void>;
}

function sqliteTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'doom-m11-'));
  const url = join(dir, 'doom.db');
  return {
    dialect: 'sqlite',
    url,
    old: async () => new Kysely({ dialect: await sqliteDialect(new SQLite(url)) }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresTarget(base: string): Target {
  const schema = `m11_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  return {
    dialect: 'postgres',
    url: base,
    schema,
    async old() {
      await admin(`create schema ${schema}`);
      const pool = new pg.Pool({ connectionString: base, options: `-c search_path=${schema}` });
      return new Kysely({ dialect: new PostgresDialect({ pool }) });
    },
    dispose: () => admin(`drop schema if exists ${schema} cascade`),
  };
}

const targets = [sqliteTarget, ...(process.env.TEST_DATABASE_URL ? [() => postgresTarget(process.env.TEST_DATABASE_URL!)] : [])];


/** Every migration before 0011, by the names the store gives them. */
const before = (dialect: Dialect): Record<string, Migration> => {
  const all = { '0001_init': m0001, '0002_rewards_recent': m0002, '0003_issue_notices': m0003, '0004_kept_work': m0004, '0005_reward_attempts': m0005, '0006_reward_guards': m0006, '0007_local_forge': m0007, '0008_command_outcomes': m0008, '0009_task_states': m0009 };
  return Object.fromEntries(Object.entries(all).map(([name, m]) => [name, { up: (db: Kysely<unknown>) => m.up(db, dialect) }]));
};

for (const make of targets) {
  const target = make();
  describe(`migration 0011 (commands) on ${target.dialect}`, () => {
    it('keeps the command outcomes, keyed by where the comment id is from; adds task_feedback', async () => {
      const old = await target.old();
      const migrator = new Migrator({ db: old, provider: { getMigrations: async () => before(target.dialect) }, ...(target.schema ? { migrationTableSchema: target.schema } : {}) });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      await old
        .insertInto('command_outcomes')
        .values({ forge: 'github', repo_id: 7, comment_id: 3_000_000_001, line: 2, command: 'suspend', state: 'done', reply: 'Suspended.', actor: 'github:m', started_at: 't0', finished_at: 't1' })
        .execute();
      await old.destroy();

      const store = await openStore(target.url, target.schema ? { schema: target.schema } : {});
      try {
        const comment = { forge: 'github', repoId: 7, kind: 'comment', commentId: 3_000_000_001 } as const;
        expect([...(await commandOutcomes(store.db, comment)).values()]).toEqual([{ line: 2, command: 'suspend', state: 'done', reply: 'Suspended.' }]);
        // The same line of a review with the same id is another comment's: it may begin.
        expect(await beginCommand(store.db, { ...comment, kind: 'review' }, 2, 'status', 'github:m')).toBe(true);
        expect(await beginCommand(store.db, comment, 2, 'suspend', 'github:m')).toBe(false);

        const vote = { taskId: 1, mrNumber: 2, user: { id: 9, login: 'alice' }, text: null, commentId: 3_000_000_002 };
        expect(await recordFeedback(store.db, { ...vote, vote: -1 })).toEqual({ previous: null });
        expect(await recordFeedback(store.db, { ...vote, vote: 1 })).toEqual({ previous: -1 });
        expect((await feedbackOf(store.db, 1, 2)).map((f) => [f.login, f.vote, f.comment_id])).toEqual([['alice', 1, 3_000_000_002]]);
      } finally {
        await store.close();
        await target.dispose();
      }
    });
  });
}
