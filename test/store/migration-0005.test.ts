/**
 * Migration 0005 on a store that already holds the old one-reward-per-(task, agent) rows: each
 * reward goes to its attempt, settled ones get their settled_at, the window's order is kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import * as m0001 from '../../src/store/migrations/0001_init.js';
import * as m0002 from '../../src/store/migrations/0002_rewards_recent.js';
import type { Dialect } from '../../src/store/migrations/columns.js';
import { settledRewards, successRates } from '../../src/store/rewards.js';
import { sqliteDialect } from '../../src/store/sqlite.js';
import { newTask } from '../helpers/tasks.js';

interface Target {
  dialect: Dialect;
  url: string;
  schema?: string;
  old(): Promise<Kysely<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the pre-0005 schema has no type
  dispose(): Promise<void>;
}

function sqliteTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'doom-m3-'));
  const url = join(dir, 'doom.db');
  return {
    dialect: 'sqlite',
    url,
    old: async () => new Kysely({ dialect: await sqliteDialect(new SQLite(url)) }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresTarget(base: string): Target {
  const schema = `m3_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
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

for (const make of targets) {
  const target = make();
  describe(`migration 0005 (reward attempts) on ${target.dialect}`, () => {
    it('gives each existing reward its attempt, merge request state and settled_at', async () => {
      const old = await target.old();
      const migrator = new Migrator({
        db: old,
        provider: {
          getMigrations: async () => ({
            '0001_init': { up: (db) => m0001.up(db, target.dialect) },
            '0002_rewards_recent': { up: (db) => m0002.up(db, target.dialect) },
          }),
        },
        ...(target.schema ? { migrationTableSchema: target.schema } : {}),
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();

      const at = (m: number) => `2025-08-12T10:0${m}:00.000Z`;
      const merged = await old.insertInto('tasks').values({ ...newTask({ issue_number: 1 }), status: 'completed', branch: 'doom/1-a', head_sha: 'aaa', pr_number: 5, pr_url: 'https://x/pull/5' }).returning('id').executeTakeFirstOrThrow();
      const closed = await old.insertInto('tasks').values({ ...newTask({ issue_number: 2 }), status: 'completed', branch: 'doom/2-b', head_sha: 'bbb', pr_number: 6, pr_url: 'https://x/pull/6' }).returning('id').executeTakeFirstOrThrow();
      const open = await old.insertInto('tasks').values({ ...newTask({ issue_number: 3 }), status: 'completed', branch: 'doom/3-c', head_sha: 'ccc', pr_number: 7, pr_url: 'https://x/pull/7' }).returning('id').executeTakeFirstOrThrow();
      const assignment = (taskId: number, status: string) => ({
        task_id: taskId, agent_name: 'agent-x', status, reasons: '[]', assigned_at: at(0), started_at: at(0), finished_at: at(1), outcome: null, error: null,
        input_tokens: 0, output_tokens: 0, cache_tokens: 0, cost_usd: 0, turns: 0, transcript: null,
      });
      // The merged task: a timed-out attempt, then the one that published.
      await old.insertInto('assignments').values([assignment(merged.id, 'failed'), assignment(merged.id, 'completed'), assignment(closed.id, 'completed'), assignment(open.id, 'completed')]).execute();
      const reward = (taskId: number, kind: string, value: number, updated: string) => ({
        task_id: taskId, agent_name: 'agent-x', reward: value, components: '{}', weights: '{}', evaluator_version: '1.0.0', hook_duration_ms: 1, kind, degraded: 0, created_at: at(0), updated_at: updated,
      });
      await old.insertInto('rewards').values([reward(merged.id, 'final', 3.2, at(3)), reward(closed.id, 'final', -1.06, at(2)), reward(open.id, 'provisional', 2.4, at(4))]).execute();
      const log = (taskId: number, trigger: string) => ({ at: at(2), event: 'reward.final', actor: 'evaluator', task_id: taskId, agent_name: 'agent-x', data: JSON.stringify({ reward: 1, trigger }) });
      await old.insertInto('audit_log').values([log(merged.id, 'closed'), log(merged.id, 'merged'), log(closed.id, 'closed')]).execute();
      await old.destroy();

      const store = await openStore(target.url, target.schema ? { schema: target.schema } : {});
      try {
        const attempts = await store.db.selectFrom('assignments').selectAll().orderBy('id').execute();
        expect(attempts.map((a) => [a.branch, a.mr_number, a.head_sha])).toEqual([
          ['doom/1-a', null, null],
          ['doom/1-a', 5, 'aaa'],
          ['doom/2-b', 6, 'bbb'],
          ['doom/3-c', 7, 'ccc'],
        ]);
        const rows = await store.db.selectFrom('rewards').selectAll().orderBy('id').execute();
        expect(rows.map((r) => [r.assignment_id, r.mr_number, r.mr_state, r.settled_at])).toEqual([
          [attempts[1]!.id, 5, 'merged', at(3)],
          [attempts[2]!.id, 6, 'closed', at(2)],
          [attempts[3]!.id, 7, 'open', null],
        ]);
        expect((await settledRewards(store.db, 'agent-x')).map((r) => r.reward)).toEqual([-1.06, 3.2]);
        expect(await successRates(store.db)).toEqual(new Map([['agent-x', { merged: 1, settled: 2, rate: 0.5 }]]));
        // The old constraint is gone: a second attempt of a task by the same agent gets its own row.
        await store.db.insertInto('rewards').values({ ...reward(merged.id, 'provisional', 1, at(5)), assignment_id: null, mr_number: null, mr_state: null, settled_at: null, kind: 'provisional' }).execute();
        // New rows get fresh ids after the copied ones.
        const ids = (await store.db.selectFrom('rewards').select('id').orderBy('id').execute()).map((r) => r.id);
        expect(new Set(ids).size).toBe(4);
      } finally {
        await store.close();
        await target.dispose();
      }
    });
  });
}
