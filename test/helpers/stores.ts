/**
 * The store backends a test runs against: SQLite always, Postgres too when
 * TEST_DATABASE_URL is set (each test gets a fresh schema there).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db.js';

export interface Backend {
  name: string;
  open(): Promise<Store & { dispose(): Promise<void> }>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'doom-store-'));
    const store = await openStore(join(dir, 'doom.db'));
    return {
      ...store,
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

function postgres(url: string): Backend {
  return {
    name: 'postgres',
    async open() {
      const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      const store = await openStore(url, { schema });
      return {
        ...store,
        async dispose() {
          await store.close();
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(`drop schema if exists ${schema} cascade`);
          await client.end();
        },
      };
    },
  };
}

export const backends: Backend[] = [sqlite, ...(process.env.TEST_DATABASE_URL ? [postgres(process.env.TEST_DATABASE_URL)] : [])];
