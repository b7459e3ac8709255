/**
 * The dashboard's routes: `/` the whole page, `/dashboard/live` the live part alone (the
 * page's script swaps it in every few seconds), `/dashboard.json` the same data as JSON.
 * Read-only and unauthenticated, like `/healthz`: put it behind your proxy's auth if the
 * repository names and agent names are not for everyone who can reach the port.
 */
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Database } from '../store/schema.js';
import { dashboardData } from './data.js';
import { Live, Page } from './page.js';
import { clientScript, styles } from './assets.js';

export function createDashboard(deps: { db: Kysely<Database>; config: Pick<Config, 'tiers'> }): Hono {
  const app = new Hono();
  const noStore = { 'cache-control': 'no-store' };
  app.get('/', async (c) => c.html('<!doctype html>' + String(<Page data={await dashboardData(deps.db, deps.config)} css={styles} />), 200, noStore));
  app.get('/dashboard/live', async (c) => c.html(String(<Live data={await dashboardData(deps.db, deps.config)} />), 200, noStore));
  app.get('/dashboard.json', async (c) => c.json(await dashboardData(deps.db, deps.config), 200, noStore));
  app.get('/dashboard.js', (c) => c.body(clientScript, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  return app;
}
