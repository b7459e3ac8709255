/**
 * What `startApp` mounts beside the webhook ingress: `/metrics` (behind DOOM_METRICS_TOKEN when
 * set), the REST API under `/api/v1`, and the dashboard at `/`.
 */
import type { Hono } from 'hono';
import { createDashboard } from '../dashboard/routes.js';
import { secretsEqual } from '../ingress/server.js';
import { createMetrics } from '../metrics/metrics.js';
import { bearerOf } from './auth.js';
import { createApi, type ApiDeps } from './routes.js';

export interface MountDeps extends ApiDeps {
  metricsToken?: string;
}

export function mountApi(http: Hono, deps: MountDeps): void {
  const metrics = createMetrics(deps.db, deps.config);
  http.get('/metrics', async (c) => {
    if (deps.metricsToken) {
      const given = bearerOf(c.req.header('authorization'));
      if (given === null || !secretsEqual(given, deps.metricsToken)) {
        return c.json({ error: 'metrics need the bearer token in DOOM_METRICS_TOKEN' }, 401);
      }
    }
    return c.text(await metrics.metrics(), 200, { 'content-type': metrics.contentType });
  });
  http.route('/api/v1', createApi(deps));
  http.route('/', createDashboard({ db: deps.db, config: deps.config }));
}
