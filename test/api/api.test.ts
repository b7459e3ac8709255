/**
 * The REST API through the real server: every route's success path and its 401, 403, 404
 * and 422 answers, with tokens from DOOM_API_TOKENS. A GitLab issue labeled through the
 * webhook makes the repository known; a task submitted over REST then lands on another of
 * its issues, routed like a labeled one. The OpenAPI document is validated as OpenAPI 3.1.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const READ = 'read-token-0123456789abcdef';
const OPERATE = 'operate-token-0123456789abcdef';
const CLONE = 'https://gitlab.example.com/gitlabhq/gitlab-test.git';

describe('REST API /api/v1', () => {
  let app: TestApp;
  let repo: string;
  onlyLocalNetwork();
  beforeAll(async () => {
    const gitlab = new FakeGitLab().install();
    app = await startTestApp({ env: { DOOM_API_TOKENS: `grafana:read:${READ},ops:operate:${OPERATE}` } });
    const hook = labeledIssue(CLONE);
    repo = hook.project.path_with_namespace as string;
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(hook));
    await settled(app);
  });
  afterAll(async () => {
    await app.close();
    nock.cleanAll();
  });

  const call = (path: string, init: { token?: string | null; method?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = {};
    const token = init.token === undefined ? READ : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${app.url}/api/v1${path}`, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    });
  };
  const submission = (issue: number, task: Record<string, unknown> = {}) => ({
    repository: { forge: 'gitlab', full_name: repo },
    issue,
    task: { id: 'test-001', type: 'bugfix', tags: ['api'], priority: 'P1', description: 'Fix the flaky greeting test', constraints: { max_tokens: 20000 }, ...task },
  });

  it('serves a valid OpenAPI 3.1 document naming every route, without a token', async () => {
    const res = await call('/openapi.json', { token: null });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/agents',
      '/agents/{name}/metrics',
      '/agents/{name}/promote',
      '/agents/{name}/suspend',
      '/leaderboard',
      '/tasks',
      '/tasks/{id}',
    ]);
  });

  it('answers 401 without a token or with a wrong one, naming the problem', async () => {
    for (const [token, error] of [
      [null, 'missing bearer token'],
      ['not-a-configured-token-000', 'invalid bearer token'],
    ] as const) {
      const res = await call('/tasks', { token });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toContain(error);
    }
  });

  it('answers 401 on every route of the document without a token, and 403 on every write with a read token', async () => {
    const doc = (await (await call('/openapi.json', { token: null })).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    expect(routes).toHaveLength(8);
    for (const { path, method, op } of routes) {
      expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
      const url = path.replace('{id}', '1').replace('{name}', 'agent-bugfix-junior');
      const body = method === 'post' ? (path === '/tasks' ? submission(78) : {}) : undefined;
      const anonymous = await call(url, { token: null, method: method.toUpperCase(), body });
      expect(anonymous.status, `${method} ${path}`).toBe(401);
      expect(((await anonymous.json()) as { error: string }).error).toContain('missing bearer token');
      if (method !== 'post') continue;
      const read = await call(url, { method: 'POST', body });
      expect(read.status, `${method} ${path}`).toBe(403);
    }
  });

  it('answers 403 when a read token asks to change something', async () => {
    for (const path of ['/tasks', '/agents/agent-bugfix-junior/promote', '/agents/agent-bugfix-junior/suspend']) {
      const res = await call(path, { method: 'POST', body: path === '/tasks' ? submission(77) : {} });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toBe('token "grafana" has role read; this needs operate');
    }
  });

  it('POST /tasks creates a task from the seed schema and routes it', async () => {
    const res = await call('/tasks', { token: OPERATE, method: 'POST', body: submission(42) });
    expect(res.status).toBe(201);
    const task = (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response under test
    expect(task).toMatchObject({
      type: 'bugfix',
      status: 'assigned',
      metadata: { tags: ['api'], priority: 'P1', description: 'Fix the flaky greeting test', constraints: { max_tokens: 20000 } },
      source: { forge: 'gitlab', repo, issue_number: 42 },
      decision: { kind: 'assigned' },
    });
    expect(task.source.issue_url).toMatch(/\/-\/issues\/42$/);
    expect(task.decision.agent).toBe(task.assigned_agent);
    const audit = await app.store.db.selectFrom('audit_log').select(['actor', 'data']).where('event', '=', 'task.created').where('task_id', '=', task.id).executeTakeFirstOrThrow();
    expect(audit.actor).toBe('api:ops');
    expect(JSON.parse(audit.data)).toMatchObject({ seed_id: 'test-001', via: 'api' });

    const again = await call('/tasks', { token: OPERATE, method: 'POST', body: submission(42) });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toContain(`already has task ${task.id}`);
  });

  it('POST /tasks answers 422 naming the field for a bad body, an unknown repository or agent', async () => {
    const bad = await call('/tasks', { token: OPERATE, method: 'POST', body: submission(43, { type: 'chore' }) });
    expect(bad.status).toBe(422);
    const body = (await bad.json()) as { error: string; problems: { path: string }[] };
    expect(body.problems.map((p) => p.path)).toContain('task.type');

    const notJson = await call('/tasks', { token: OPERATE, method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(422);

    const unknown = await call('/tasks', { token: OPERATE, method: 'POST', body: { ...submission(44), repository: { forge: 'github', full_name: 'nobody/nothing' } } });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { error: string }).error).toContain('github:nobody/nothing is unknown');

    const agent = await call('/tasks', { token: OPERATE, method: 'POST', body: { ...submission(45), force_agent: 'agent-nobody' } });
    expect(agent.status).toBe(422);
    expect(((await agent.json()) as { error: string }).error).toBe('agent "agent-nobody" does not exist');
  });

  it('GET /tasks filters by status, agent and type and pages', async () => {
    const all = (await (await call('/tasks')).json()) as { tasks: { id: number; assigned_agent: string }[]; total: number };
    expect(all.total).toBe(2);
    const agent = all.tasks[0]!.assigned_agent;
    const page = (await (await call(`/tasks?status=assigned&agent=${agent}&type=bugfix&limit=1&offset=0`)).json()) as { tasks: unknown[]; total: number; limit: number };
    expect(page).toMatchObject({ limit: 1 });
    expect(page.tasks).toHaveLength(1);
    expect((await (await call('/tasks?type=security')).json()) as { total: number }).toMatchObject({ total: 0, tasks: [] });
    const second = (await (await call('/tasks?limit=1&offset=1')).json()) as { tasks: { id: number }[] };
    expect(second.tasks[0]!.id).toBe(all.tasks[1]!.id);

    const bad = await call('/tasks?status=sleeping&limit=0');
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { problems: { path: string }[] }).problems.map((p) => p.path).sort()).toEqual(['limit', 'status']);
  });

  it('GET /tasks/{id} returns the task; 404 for none, 422 for a non-number', async () => {
    const list = (await (await call('/tasks')).json()) as { tasks: { id: number }[] };
    const res = await call(`/tasks/${list.tasks[0]!.id}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: number }).id).toBe(list.tasks[0]!.id);
    const missing = await call('/tasks/99999');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'task 99999 does not exist' });
    expect((await call('/tasks/abc')).status).toBe(422);
  });

  it('GET /agents, /agents/{name}/metrics and /leaderboard', async () => {
    const { agents } = (await (await call('/agents')).json()) as { agents: { name: string; tier: string }[] };
    expect(agents.map((a) => a.name)).toContain('agent-bugfix-junior');

    await app.store.db
      .insertInto('rewards')
      .values(
        [1.5, 2.5].map((reward, i) => ({
          task_id: i + 1,
          agent_name: 'agent-bugfix-junior',
          reward,
          components: JSON.stringify({ ci_pipeline_status: 1 }),
          weights: '{}',
          evaluator_version: 'test',
          hook_duration_ms: 10,
          kind: 'manual' as const,
          degraded: 0,
          created_at: `2026-01-0${i + 1}T00:00:00.000Z`,
          updated_at: `2026-01-0${i + 1}T00:00:00.000Z`,
        })),
      )
      .execute();
    const metrics = (await (await call('/agents/agent-bugfix-junior/metrics')).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response under test
    expect(metrics.overall).toEqual({ n: 2, mean: 2, stderr: 0.5, low: 1.02, high: 2.98 });
    expect(metrics.by_type.bugfix).toEqual(metrics.overall);
    expect(metrics.last_rewards).toHaveLength(2);
    expect(metrics.interval_method).toContain('standard errors');
    expect((await call('/agents/agent-nobody/metrics')).status).toBe(404);

    const board = (await (await call('/leaderboard?metric=tasks')).json()) as { metric: string; agents: { rank: number; name: string; interval: { n: number } }[] };
    expect(board.metric).toBe('tasks');
    expect(board.agents[0]!.rank).toBe(1);
    expect(board.agents.find((a) => a.name === 'agent-bugfix-junior')!.interval.n).toBe(2);
    expect((await call('/leaderboard?metric=vibes')).status).toBe(422);
  });

  it('POST /agents/{name}/suspend and /promote go through the tier service', async () => {
    const suspended = await call('/agents/agent-feature-senior/suspend', { token: OPERATE, method: 'POST', body: { reason: 'flaky' } });
    expect(suspended.status).toBe(200);
    expect(((await suspended.json()) as { agent: { tier: string } }).agent.tier).toBe('suspended');
    const history = await app.store.db.selectFrom('tier_history').selectAll().where('agent_name', '=', 'agent-feature-senior').execute();
    expect(history.at(-1)).toMatchObject({ to_tier: 'suspended', reason: 'flaky', source: 'manual' });

    const promoted = await call('/agents/agent-feature-senior/promote', { token: OPERATE, method: 'POST' });
    expect(promoted.status).toBe(200);
    expect(((await promoted.json()) as { agent: { tier: string } }).agent.tier).toBe('junior');

    const metrics = (await (await call('/agents/agent-feature-senior/metrics')).json()) as { tier_history: { to: string }[] };
    expect(metrics.tier_history.map((h) => h.to).slice(-2)).toEqual(['suspended', 'junior']);

    const down = await call('/agents/agent-feature-senior/promote', { token: OPERATE, method: 'POST', body: { to: 'junior' } });
    expect(down.status).toBe(422);
    expect(((await down.json()) as { error: string }).error).toContain('would not move it up');
    const badBody = await call('/agents/agent-feature-senior/promote', { token: OPERATE, method: 'POST', body: { to: 'suspended' } });
    expect(badBody.status).toBe(422);
    expect(((await badBody.json()) as { problems: { path: string }[] }).problems[0]!.path).toBe('to');
    expect((await call('/agents/agent-nobody/promote', { token: OPERATE, method: 'POST' })).status).toBe(404);
    expect((await call('/agents/agent-nobody/suspend', { token: OPERATE, method: 'POST' })).status).toBe(404);
  });

  it('a suspension over REST has the consequences of tier.changed: the agent\'s unstarted task is routed again', async () => {
    const created = (await (await call('/tasks', { token: OPERATE, method: 'POST', body: submission(46) })).json()) as { id: number; assigned_agent: string };
    const holder = created.assigned_agent;
    const res = await call(`/agents/${holder}/suspend`, { token: OPERATE, method: 'POST', body: { reason: 'rerouting test' } });
    expect(((await res.json()) as { tasks_moved: number }).tasks_moved).toBe(1);
    const task = await app.store.db.selectFrom('tasks').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(task.assigned_agent).not.toBe(holder);
    const released = await app.store.db.selectFrom('audit_log').select(['actor', 'data']).where('event', '=', 'task.released').where('task_id', '=', created.id).executeTakeFirstOrThrow();
    expect(released.actor).toBe('api:ops');
    expect(JSON.parse(released.data)).toMatchObject({ agent: holder });
    await call(`/agents/${holder}/promote`, { token: OPERATE, method: 'POST' });
  });
});
