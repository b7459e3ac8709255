/**
 * Wires the bot together: store, forges, task service, inbox and HTTP server. `startApp`
 * is what `doom serve` runs; tests start it too, on a random port.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { AgentFile } from './agents/schema.js';
import type { LoadedConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import type { Executor } from './executor/contract.js';
import { executorFor } from './pipeline/index.js';
import { withHookEvents } from './executor/hooks.js';
import { DomainEvents } from './events.js';
import { mountApi } from './api/mount.js';
import { Evaluator } from './rewards/evaluator.js';
import { ReviewApps } from './tasks/review-app.js';
import { nightlyTierRecompute, scheduleTierRecompute } from './tiers/schedule.js';
import { MirrorCache } from './workspace/mirror.js';
import { RunCoordinator } from './tasks/runs.js';
import type { Environment } from './config/env.js';
import { createProbot, verifyGitHubSignature } from './forges/github/app.js';
import { createForgeDirectory } from './forges/directory.js';
import type { ForgeDirectory } from './forges/forge.js';
import { dispatcher, isPermanentError, retryAfterMsOf } from './inbox/dispatch.js';
import { InboxProcessor } from './inbox/processor.js';
import { InboxWriter } from './ingress/inbox-writer.js';
import { createIngress, inboxStuckReason } from './ingress/server.js';
import { oldestDueDelivery } from './store/stats.js';
import { nowIso } from './store/time.js';
import type { Logger } from './log.js';
import { syncAgents } from './store/agents.js';
import { isPostgresUrl, openStore, type Store } from './store/db.js';
import { pruneDeliveries } from './store/deliveries.js';
import { PermissionGuard } from './permissions/guard.js';
import { CommandHandler } from './commands/handler.js';
import { TaskService } from './tasks/service.js';
import { TaskSteering } from './tasks/steering.js';
import { changeTier } from './tiers/manual.js';
import { CiFixes } from './tasks/ci-fixes.js';
import { RoundRequests } from './tasks/round-requests.js';
import { Revisions } from './tasks/revisions.js';

/** How often issues that are behind their task's state are synced again. */
const ISSUE_RECONCILE_MS = 30_000;

/** How often the P0 fallback's clock is read: a tenth of the wait, between 1 s and 1 min. */
export const p0CheckMs = (maxWaitMs: number): number => Math.min(60_000, Math.max(1_000, Math.round(maxWaitMs / 10)));

export interface AppOptions {
  env: Environment;
  loaded: LoadedConfig;
  log: Logger;
  /** Overrides the config's and the environment's port (0 = any free port). */
  port?: number;
  /** The fetch the forge clients use (tests pass one nock can see; the default is global fetch). */
  fetch?: typeof fetch;
  /** Replaces the local executor (tests). */
  executor?: Executor;
}

export interface RunningApp {
  url: string;
  store: Store;
  tasks: TaskService;
  forges: ForgeDirectory;
  processor: InboxProcessor;
  runs: RunCoordinator;
  evaluator: Evaluator;
  stop(): Promise<void>;
}

/**
 * Opens the store and builds the forge clients the environment allows. It writes nothing: the
 * CLI's read commands open the same core beside a running server.
 */
export async function openCore(options: Pick<AppOptions, 'env' | 'loaded' | 'log' | 'fetch'>) {
  const { env, loaded, log } = options;
  const store = await openStore(env.databaseUrl, { log: log.child({ name: 'store' }) });
  const { forges: forgeConfig } = loaded.config;
  const retry = { timeoutMs: forgeConfig.request_timeout_ms, maxInlineWaitMs: forgeConfig.max_inline_wait_ms };
  const github =
    env.github && forgeConfig.github.enabled
      ? createProbot({
          appId: env.github.appId,
          privateKey: env.github.privateKey,
          secret: env.github.webhookSecret,
          baseUrl: env.github.apiUrl,
          fetch: options.fetch,
          retry,
          log: log.child({ name: 'probot' }),
        })
      : null;
  const gitlab = env.gitlab && forgeConfig.gitlab.enabled ? env.gitlab : null;
  const forges = createForgeDirectory({
    ...(github ? { github: { probot: github } } : {}),
    ...(gitlab ? { gitlab: { url: gitlab.url, token: gitlab.token, fetch: options.fetch, retry } } : {}),
    local: { db: store.db },
  });
  // One guard for the app: its permission cache serves every handler that checks a sender.
  const permissions = new PermissionGuard({ db: store.db, config: loaded.config, forges });
  const events = new DomainEvents(log);
  const tasks = new TaskService({ db: store.db, config: loaded.config, forges, log, permissions, events });
  wireTaskConsequences(events, tasks);
  return { store, forges, tasks, permissions, github, gitlab, events };
}

/**
 * The bot's own places an agent's sandbox must never show: the store file's directory, the
 * config directory (agents included) and the mirror cache.
 */
export function botPlaces(databaseUrl: string, loaded: Pick<LoadedConfig, 'configPath' | 'agentsDir' | 'config'>): string[] {
  const sqlite = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  return [
    ...(isPostgresUrl(databaseUrl) || sqlite === ':memory:' ? [] : [dirname(resolve(sqlite))]),
    dirname(resolve(loaded.configPath)),
    resolve(loaded.agentsDir),
    resolve(loaded.config.executor.mirror_dir),
  ];
}

/** Pure: the agents whose file turns the sandbox off, for the start-up warning. */
export const unsandboxedAgents = (agents: readonly AgentFile[]): string[] =>
  agents.filter((a) => a.permissions.sandbox === 'none').map((a) => a.name);

/** The executor and the coordinator that feeds it; `doom serve` runs them, the CLI does not. */
export function createRuns(
  core: Awaited<ReturnType<typeof openCore>>,
  config: Config,
  log: Logger,
  executor?: Executor,
  hidden: string[] = [],
): RunCoordinator {
  const runs = new RunCoordinator({
    db: core.store.db,
    config,
    forges: core.forges,
    tasks: core.tasks,
    events: core.events,
    log,
    health: core.store.health,
    executor:
      executor ??
      withHookEvents(executorFor(config, { db: core.store.db, forges: core.forges, log, syncIssue: (id) => core.tasks.syncIssue({ id }) }, {
        mirrorDir: resolve(config.executor.mirror_dir),
        workspaceDir: resolve(config.executor.workspace_dir),
        mirrorDiskBudgetBytes: config.executor.mirror_disk_budget_mb * 1024 * 1024,
        capacity: config.coordinator.max_concurrent_agents,
        sandbox: { hidden },
      }), core.store.db, log),
  });
  wireRunConsequences(core.events, core.tasks, runs);
  return runs;
}

/**
 * What follows from each domain event (events.ts), in one place. The task service's part:
 * every tier change, whoever caused it, releases and re-routes. The CLI has only this part.
 */
export function wireTaskConsequences(events: DomainEvents, tasks: TaskService): void {
  events.on('tier.changed', (e) => tasks.onTierChanged(e));
}

/** The executor's part, where runs happen (`doom serve`). */
export function wireRunConsequences(events: DomainEvents, tasks: TaskService, runs: RunCoordinator): void {
  events
    .on('task.assigned', () => runs.kick())
    .on('run.cancel_requested', (e) => runs.onCancelRequested(e))
    // The agent has room again, and so may others: route what waits.
    .on('run.finished', async () => {
      await tasks.routePending('executor');
    });
}

export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { env, loaded, log } = options;
  const { config } = loaded;
  const core = await openCore(options);
  const { store, forges, tasks, permissions, github, gitlab } = core;
  // The server is what the agent files describe: only it (and `doom agents sync`) syncs them.
  const sync = await syncAgents(store.db, loaded.agents);
  if (Object.values(sync).some((names) => names.length > 0)) log.info(sync, 'agent pool synced with the agent files');
  const runs = createRuns(core, config, log, options.executor, botPlaces(env.databaseUrl, loaded));
  for (const agent of unsandboxedAgents(loaded.agents)) {
    log.warn(
      { agent },
      `agent ${agent} runs WITHOUT a sandbox (permissions.sandbox: none in its file): it can read what the bot's user can, and reach any host`,
    );
  }

  if (!github) log.warn({ missing: env.githubMissing }, 'GitHub is not configured: /api/github/webhooks answers 404');
  if (!gitlab) log.warn({ missing: env.gitlabMissing }, 'GitLab is not configured: /api/gitlab/webhooks answers 404');
  if (config.scoreboard.compact_on_startup) {
    const pruned = await pruneDeliveries(store.db, config.scoreboard.retention_days);
    if (pruned > 0) log.info({ pruned }, 'pruned old webhook deliveries');
  }

  const inbox = new InboxWriter(store.db);
  const evaluator = new Evaluator({
    db: store.db,
    config,
    forges,
    events: core.events,
    log,
    mirrors: new MirrorCache({
      root: resolve(config.executor.mirror_dir),
      diskBudgetBytes: config.executor.mirror_disk_budget_mb * 1024 * 1024,
    }),
  });
  const reviewApps = new ReviewApps({ db: store.db, forges });
  // The review and CI loops: rounds of a published attempt (tasks/rounds.ts).
  const rounds = new RoundRequests({ db: store.db, config, events: core.events, log: log.child({ name: 'rounds' }) });
  const revisions = new Revisions({ db: store.db, forges, permissions, rounds, log: log.child({ name: 'revisions' }) });
  const ciFixes = new CiFixes({ db: store.db, config, forges, rounds, log: log.child({ name: 'ci-fixes' }) });
  const steering = new TaskSteering({ db: store.db, config, forges, tasks, events: core.events });
  const commands = new CommandHandler({
    db: store.db,
    config,
    forges,
    permissions,
    revisions,
    log: log.child({ name: 'commands' }),
    services: {
      steering,
      changeTier: (change) => changeTier({ db: store.db, events: core.events }, change),
      feedbackRecorded: (taskId) => evaluator.onFeedback(taskId),
    },
  });
  const handle = dispatcher({
    issue: (event) => tasks.onIssueEvent(event),
    comment: async (event) => {
      await commands.onComment(event);
      await revisions.onComment(event);
    },
    deployment: (event) => reviewApps.onDeployment(event),
    // The failed jobs are read first: the reward does not hold a failure the target branch has too against the change.
    pipeline: async (event) => {
      await ciFixes.onPipeline(event);
      await evaluator.onPipeline(event);
    },
    review: async (event) => {
      await evaluator.onReview(event);
      await revisions.onReview(event);
    },
    merge_request: (event) => evaluator.onMergeRequest(event),
  });
  const processor = new InboxProcessor({
    db: store.db,
    log,
    handle: async (delivery) => {
      await handle(delivery);
    },
    isPermanent: isPermanentError,
    retryAfterMs: retryAfterMsOf,
    ingressBusy: () => inbox.busy(),
    health: store.health,
    pollIntervalMs: config.inbox.poll_interval_ms,
    maxAttempts: config.inbox.max_attempts,
    retryBaseMs: config.inbox.retry_base_ms,
    concurrency: config.inbox.concurrency,
  });
  inbox.onStored(() => processor.kick());

  const app = createIngress({
    inbox,
    store,
    log,
    maxBodyBytes: config.server.max_body_bytes,
    ...(github ? { github: { verify: (body, sig) => verifyGitHubSignature(github, body, sig) } } : {}),
    ...(gitlab ? { gitlab: { secret: gitlab.webhookSecret } } : {}),
    inboxStuck: async () => inboxStuckReason(await oldestDueDelivery(store.db, nowIso()), Date.now(), config.inbox.stuck_after_ms),
    extend: (http) => mountApi(http, { db: store.db, config, tasks, events: core.events, tokens: env.apiTokens, metricsToken: env.metricsToken, log: log.child({ name: 'api' }) }),
  });

  const port = options.port ?? env.port ?? config.coordinator.port;
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: '0.0.0.0' }, () => resolve(s));
  });
  const address = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  log.info({ port: address.port, database: store.dialect }, 'doom-rlvr listening');

  await processor.start();
  await runs.start();
  const nightly = scheduleTierRecompute({
    cron: config.tiers.recompute_cron,
    run: nightlyTierRecompute({ db: store.db, config, log, events: core.events }),
    log,
  });
  // Capacity may have freed while the bot was down.
  await tasks.routePending('startup').catch((error: unknown) => log.error({ err: error }, 'routing pending tasks failed'));
  // Issues whose comment update failed (a cancel stored, its comment not) are brought in line.
  const reconcile = () => void tasks.reconcileIssues().catch((error: unknown) => log.error({ err: error }, 'reconciling issues failed'));
  reconcile();
  const reconciler = setInterval(reconcile, ISSUE_RECONCILE_MS);
  reconciler.unref();
  // No event may come while a P0 waits out `p0_max_wait_ms`: its clock is checked on a timer.
  const overdue = () => void tasks.routeOverdue().catch((error: unknown) => log.error({ err: error }, 'routing overdue P0 tasks failed'));
  const p0Clock = setInterval(overdue, p0CheckMs(config.routing.p0_max_wait_ms));
  p0Clock.unref();

  return {
    url,
    store,
    tasks,
    forges,
    processor,
    runs,
    evaluator,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearInterval(reconciler);
      clearInterval(p0Clock);
      nightly.stop();
      await processor.stop();
      await runs.stop();
      await store.close();
    },
  };
}
