/**
 * The REST API under `/api/v1`, built with @hono/zod-openapi from the shapes in schemas.ts;
 * the document it generates is served at `/api/v1/openapi.json`. Every route wants a bearer
 * token (auth.ts); writes go through the services the CLI uses (TaskService, tiers/service.ts),
 * reads through the store's read functions. Errors are JSON `{ error, problems? }`: 401 no or
 * bad token, 403 the token's role is too low, 404 no such task or agent, 409 the issue has a
 * task already, 422 the request does not validate or the action cannot be done.
 *
 * ```ts
 * http.route('/api/v1', createApi({ db, config, tasks, events, tokens, log }));
 * ```
 */
import { createRoute, OpenAPIHono, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { getAgent, listAgents } from '../store/agents.js';
import { rewardsOf } from '../store/rewards.js';
import type { Database } from '../store/schema.js';
import { knownRepository, settledRewardsWithType, taskPage, tierHistory } from '../store/stats.js';
import { getTask } from '../store/tasks.js';
import { taskSpecFromSeed } from '../tasks/intake.js';
import type { TaskService } from '../tasks/service.js';
import { TierError } from '../tiers/service.js';
import { changeTier } from '../tiers/manual.js';
import type { EventSink } from '../events.js';
import { INTERVAL_METHOD, summarize, summarizeBy } from '../metrics/summary.js';
import { authorize, type ApiRole, type ApiToken } from './auth.js';
import * as s from './schemas.js';
import { agentView, issueUrlOf, leaderboardView, taskView } from './views.js';

export interface ApiDeps {
  db: Kysely<Database>;
  config: Config;
  tasks: Pick<TaskService, 'submitTask'>;
  /** Where a tier change is said (`tier.changed`): its consequences release and route (tiers/manual.ts). */
  events: EventSink;
  tokens: readonly ApiToken[];
  log: Logger;
}

interface ApiEnv {
  Variables: { caller: ApiToken };
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: s.ErrorBody } } });
const errors = {
  401: errorResponse('No bearer token, or not a configured one.'),
  403: errorResponse("The token's role does not allow this."),
};
const security = [{ bearer: [] }];

/** zod issues as the 422 body lists them: where, and what is wrong there. */
function problemsOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
}

const routes = {
  submitTask: createRoute({
    method: 'post',
    path: '/tasks',
    summary: 'Submit a new task',
    description: 'Creates a task for an issue of a repository the bot knows, and routes it at once.',
    security,
    request: { body: { required: true, content: { 'application/json': { schema: s.TaskSubmission } } } },
    responses: {
      201: { description: 'Created; `decision` says whether an agent took it.', content: { 'application/json': { schema: s.Task.extend({ decision: s.Decision }) } } },
      ...errors,
      409: errorResponse('The issue already has a task.'),
      422: errorResponse('The body does not validate, or names a repository or agent the bot does not know.'),
    },
  }),
  listTasks: createRoute({
    method: 'get',
    path: '/tasks',
    summary: 'List tasks, newest first',
    security,
    request: { query: s.TaskQuery },
    responses: { 200: { description: 'One page of tasks.', content: { 'application/json': { schema: s.TaskList } } }, ...errors, 422: errorResponse('A filter is invalid.') },
  }),
  getTask: createRoute({
    method: 'get',
    path: '/tasks/{id}',
    summary: 'One task',
    security,
    request: { params: s.TaskId },
    responses: { 200: { description: 'The task.', content: { 'application/json': { schema: s.Task } } }, ...errors, 404: errorResponse('No such task.'), 422: errorResponse('The id is not a positive integer.') },
  }),
  listAgents: createRoute({
    method: 'get',
    path: '/agents',
    summary: 'The agent pool',
    security,
    responses: { 200: { description: 'Active agents, by name.', content: { 'application/json': { schema: s.AgentList } } }, ...errors },
  }),
  agentMetrics: createRoute({
    method: 'get',
    path: '/agents/{name}/metrics',
    summary: 'Get agent performance metrics',
    description: `Mean and interval of settled rewards, overall and per task type (${INTERVAL_METHOD}), tier history and the last rewards.`,
    security,
    request: { params: s.AgentName },
    responses: { 200: { description: 'The metrics.', content: { 'application/json': { schema: s.AgentMetrics } } }, ...errors, 404: errorResponse('No such agent.') },
  }),
  leaderboard: createRoute({
    method: 'get',
    path: '/leaderboard',
    summary: 'Agents ranked',
    security,
    request: { query: s.LeaderboardQuery },
    responses: { 200: { description: 'The ranking.', content: { 'application/json': { schema: s.Leaderboard } } }, ...errors, 422: errorResponse('Unknown metric.') },
  }),
  promote: createRoute({
    method: 'post',
    path: '/agents/{name}/promote',
    summary: 'Promote an agent (one tier up, or to `to`)',
    security,
    request: { params: s.AgentName, body: { required: false, content: { 'application/json': { schema: s.PromoteBody } } } },
    responses: {
      200: { description: 'Promoted; waiting tasks were routed again.', content: { 'application/json': { schema: s.TierAction } } },
      ...errors,
      404: errorResponse('No such agent.'),
      422: errorResponse('The promotion would not move the agent up, or the body is invalid.'),
    },
  }),
  suspend: createRoute({
    method: 'post',
    path: '/agents/{name}/suspend',
    summary: 'Suspend an agent until an operator promotes it',
    security,
    request: { params: s.AgentName, body: { required: false, content: { 'application/json': { schema: s.SuspendBody } } } },
    responses: {
      200: { description: 'Suspended; tasks it had not started went back to the router.', content: { 'application/json': { schema: s.TierAction } } },
      ...errors,
      404: errorResponse('No such agent.'),
      422: errorResponse('The body is invalid.'),
    },
  }),
};

/** Which role each method needs: reads for GET, operate for everything that changes state. */
const roleFor = (method: string): ApiRole => (method === 'GET' || method === 'HEAD' ? 'read' : 'operate');

export function createApi(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const { db, config, tasks, events, tokens, log } = deps;
  const api = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return c.json({ error: 'the request is invalid', problems: problemsOf(result.error) }, 422);
    },
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A token from DOOM_API_TOKENS (name:role:token); role read for GET, operate for POST.',
  });
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'doom-rlvr', version: '1', description: 'Tasks, agents, rewards and tiers of a doom-rlvr bot.' },
    servers: [{ url: '/api/v1' }],
  });

  api.onError((error, c) => {
    // The JSON validator throws 400 on a body that does not parse: the request is what is wrong.
    if (error instanceof HTTPException && error.status === 400) {
      return c.json({ error: 'the body is not valid JSON', problems: [{ path: '(body)', message: error.message }] }, 422);
    }
    if (error instanceof HTTPException) return c.json({ error: error.message }, error.status);
    log.error({ err: error, path: c.req.path }, 'API request failed');
    return c.json({ error: 'internal error' }, 500);
  });

  api.use('*', async (c, next) => {
    if (c.req.path.endsWith('/openapi.json')) return next();
    const decision = authorize(tokens, c.req.header('authorization'), roleFor(c.req.method));
    if (decision.kind === 'deny') {
      // The token itself is never logged: only which entry it matched, if any.
      log.info({ method: c.req.method, path: c.req.path, status: decision.status }, 'API request refused');
      return c.json({ error: decision.error }, decision.status);
    }
    c.set('caller', decision.caller);
    return next();
  });

  api.openapi(routes.submitTask, async (c) => {
    const body = c.req.valid('json');
    const repo = await knownRepository(db, body.repository.forge, body.repository.full_name);
    if (!repo) {
      return c.json(
        { error: `repository ${body.repository.forge}:${body.repository.full_name} is unknown to the bot: it learns a repository from its first labeled issue`, problems: [{ path: 'repository', message: 'unknown repository' }] },
        422,
      );
    }
    if (body.force_agent && !(await getAgent(db, body.force_agent))) {
      return c.json({ error: `agent "${body.force_agent}" does not exist`, problems: [{ path: 'force_agent', message: 'unknown agent' }] }, 422);
    }
    const caller = c.get('caller');
    const spec = taskSpecFromSeed(body.task, config, body.force_agent ?? null);
    const source = { repo, issueNumber: body.issue, issueUrl: issueUrlOf(repo, body.issue) };
    const { task, created } = await tasks.submitTask(source, spec, `api:${caller.name}`, body.task.id ? { seed_id: body.task.id } : {});
    if (!created) return c.json({ error: `issue ${task.issue_url} already has task ${task.id}` }, 409);
    const decision =
      task.status === 'assigned'
        ? { kind: 'assigned' as const, agent: task.assigned_agent, reason: null }
        : task.status === 'pending'
          ? { kind: 'pending' as const, agent: null, reason: task.pending_reason }
          : { kind: 'not_routed' as const, agent: null, reason: task.error_message };
    return c.json({ ...taskView(task), decision }, 201);
  });

  api.openapi(routes.listTasks, async (c) => {
    const q = c.req.valid('query');
    const { tasks: rows, total } = await taskPage(db, { status: q.status, agent: q.agent, type: q.type }, { limit: q.limit, offset: q.offset });
    return c.json({ tasks: rows.map(taskView), total, limit: q.limit, offset: q.offset }, 200);
  });

  api.openapi(routes.getTask, async (c) => {
    const { id } = c.req.valid('param');
    const task = await getTask(db, id);
    if (!task) return c.json({ error: `task ${id} does not exist` }, 404);
    return c.json(taskView(task), 200);
  });

  api.openapi(routes.listAgents, async (c) => c.json({ agents: (await listAgents(db)).map(agentView) }, 200));

  api.openapi(routes.agentMetrics, async (c) => {
    const { name } = c.req.valid('param');
    const agent = await getAgent(db, name);
    if (!agent) return c.json({ error: `agent "${name}" does not exist` }, 404);
    const [settled, history, last] = await Promise.all([settledRewardsWithType(db, name), tierHistory(db, name), rewardsOf(db, name, 10)]);
    return c.json(
      {
        agent: agent.name,
        tier: agentView(agent).tier,
        rolling_avg_reward: agent.rolling_avg,
        interval_method: INTERVAL_METHOD,
        overall: summarize(settled.map((r) => r.reward)),
        by_type: summarizeBy(settled, (r) => r.task_type, (r) => r.reward),
        tier_history: history.map((h) => ({ from: h.from_tier, to: h.to_tier, reason: h.reason, source: h.source, rolling_avg: h.rolling_avg, timestamp: h.created_at })),
        last_rewards: last.map((r) => ({
          task_id: r.task_id,
          reward: r.reward,
          kind: r.kind,
          degraded: r.degraded === 1,
          components: JSON.parse(r.components) as Record<string, number>,
          timestamp: r.updated_at,
        })),
      },
      200,
    );
  });

  api.openapi(routes.leaderboard, async (c) => {
    const { metric } = c.req.valid('query');
    const [agents, settled] = await Promise.all([listAgents(db), settledRewardsWithType(db)]);
    return c.json({ metric, interval_method: INTERVAL_METHOD, agents: leaderboardView(agents, settled, metric) }, 200);
  });

  api.openapi(routes.promote, async (c) => {
    const { name } = c.req.valid('param');
    const body = await optionalBody(c, s.PromoteBody);
    if ('problems' in body) return c.json(body, 422);
    if (!(await getAgent(db, name))) return c.json({ error: `agent "${name}" does not exist` }, 404);
    try {
      const change = { kind: 'promote', agent: name, actor: `api:${c.get('caller').name}`, ...(body.to ? { to: body.to } : {}), ...(body.reason ? { reason: body.reason } : {}) } as const;
      const { agent, assigned } = await changeTier({ db, events }, change);
      return c.json({ agent: agentView(agent), tasks_moved: assigned }, 200);
    } catch (error) {
      if (error instanceof TierError) return c.json({ error: error.message }, 422);
      throw error;
    }
  });

  api.openapi(routes.suspend, async (c) => {
    const { name } = c.req.valid('param');
    const body = await optionalBody(c, s.SuspendBody);
    if ('problems' in body) return c.json(body, 422);
    if (!(await getAgent(db, name))) return c.json({ error: `agent "${name}" does not exist` }, 404);
    const actor = `api:${c.get('caller').name}`;
    const { agent, released } = await changeTier({ db, events }, { kind: 'suspend', agent: name, actor, ...(body.reason ? { reason: body.reason } : {}) });
    return c.json({ agent: agentView(agent), tasks_moved: released }, 200);
  });

  return api;
}

/**
 * The body of a POST whose body may be left out: `{}` when empty, else validated. (The
 * OpenAPI validator skips a non-required body sent without a content type.)
 */
async function optionalBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | { error: string; problems: { path: string; message: string }[] }> {
  const text = await c.req.text();
  if (text.trim() === '') return schema.parse({}) as z.infer<T>;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { error: 'the body is not valid JSON', problems: [{ path: '(body)', message: 'not JSON' }] };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) return { error: 'the request is invalid', problems: problemsOf(parsed.error) };
  return parsed.data as z.infer<T>;
}
