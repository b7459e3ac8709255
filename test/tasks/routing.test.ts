/**
 * Routing through the task service: the routing book over a real SQLite store, the clock and
 * the random source injected, an in-memory forge. The P0 fallback's clock, probation after
 * a suspension by rewards, and one routing pass per tier change.
 */
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { DomainEvents } from '../../src/events.js';
import { createLogger } from '../../src/log.js';
import { seededRandom } from '../../src/routing/posterior.js';
import { lastAssignment } from '../../src/store/transitions.js';
import type { Database, TaskRow } from '../../src/store/schema.js';
import { getTask } from '../../src/store/tasks.js';
import { TaskService } from '../../src/tasks/service.js';
import { promoteAgent, recomputeAgent, suspendAgent } from '../../src/tiers/service.js';
import { FakeForge } from '../support/fake-forge.js';
import { priorRewards } from '../support/record.js';
import { addTask, freshStore, shippedConfig, type TestStore } from '../tiers/fixtures.js';

const MIN = 60_000;

let store: TestStore;
let db: Kysely<Database>;
let config: Config;
let now: number;
let service: TaskService;
let events: DomainEvents;

beforeEach(async () => {
  store = await freshStore();
  db = store.db;
  config = shippedConfig();
  now = Date.now();
  events = new DomainEvents(createLogger({ level: 'silent' }));
  service = new TaskService({
    db,
    config,
    forges: new FakeForge().directory(),
    log: createLogger({ level: 'silent' }),
    events,
    rng: seededRandom(1),
    now: () => now,
  });
  events.on('tier.changed', (e) => service.onTierChanged(e));
});
afterEach(async () => {
  await store.dispose();
});

const reasons = async (task: TaskRow) => JSON.parse((await lastAssignment(db, task.id))!.reasons) as string[];

describe('the P0 fallback', () => {
  it('keeps a P0 for a principal, then gives it to the best senior after p0_max_wait_ms, and says why', async () => {
    // The only principal is suspended: the security senior and junior are of another tier.
    await suspendAgent(db, 'agent-principal', { actor: 'alice' });
    const t = await addTask(db, { type: 'security', priority: 'P0', created_at: new Date(now).toISOString() });
    expect(await service.routePending()).toBe(0);
    expect((await getTask(db, t.id))!.pending_reason).toBe(
      'no principal security agent with free capacity for P0 (2 of another tier, 1 suspended); the best senior takes it after 15 min of waiting',
    );

    now += 10 * MIN;
    expect(await service.routeOverdue()).toBe(0);
    now += 6 * MIN;
    expect(await service.routeOverdue()).toBe(1);
    const routed = (await getTask(db, t.id))!;
    expect(routed).toMatchObject({ status: 'assigned', assigned_agent: 'agent-security-senior' });
    expect((await reasons(routed))[0]).toBe(
      'P0 fallback: no eligible security principal freed up within 15 min (waited 16 min), so the senior with the best lower bound takes it',
    );
  });
});

describe('probation', () => {
  it('gives an agent suspended by its rewards one task after the cool-down, and none to an operator\'s suspension', async () => {
    const anchor = await addTask(db, { type: 'refactor', status: 'completed' });
    await priorRewards(db, 'agent-refactor-junior', anchor.id, [-3, -3, -3, -3, -3]);
    const moved = await recomputeAgent(db, config, 'agent-refactor-junior', 'rewards');
    expect(moved.agent.tier).toBe('suspended');

    // Before the cool-down: the refactor task goes to an agent in good standing.
    const first = await addTask(db, { type: 'refactor', priority: 'P2' });
    await service.routePending();
    expect((await getTask(db, first.id))!.assigned_agent).not.toBe('agent-refactor-junior');

    now += 25 * 60 * MIN;
    const second = await addTask(db, { type: 'refactor', priority: 'P2' });
    await service.routePending();
    const probation = (await getTask(db, second.id))!;
    expect(probation.assigned_agent).toBe('agent-refactor-junior');
    expect((await reasons(probation))[0]).toMatch(/^probation: agent-refactor-junior was suspended by its rewards/);

    // One at a time: it holds its probation task, so the next goes elsewhere.
    const third = await addTask(db, { type: 'refactor', priority: 'P2' });
    await service.routePending();
    expect((await getTask(db, third.id))!.assigned_agent).not.toBe('agent-refactor-junior');

    // An operator's suspension holds: no probation, whatever the cool-down.
    await suspendAgent(db, 'agent-bugfix-junior', { actor: 'alice' });
    now += 48 * 60 * MIN;
    const bug = await addTask(db, { type: 'bugfix', priority: 'P2' });
    await service.routePending();
    expect((await getTask(db, bug.id))!.assigned_agent).not.toBe('agent-bugfix-junior');
  });
});

describe('one pass per event', () => {
  it('routes every pending task after a tier change, most urgent first, from one book', async () => {
    await suspendAgent(db, 'agent-principal', { actor: 'alice' });
    const tasks = [
      await addTask(db, { type: 'bugfix', priority: 'P2' }),
      await addTask(db, { type: 'bugfix', priority: 'P0', created_at: new Date(now).toISOString() }),
    ];
    await service.routePending();
    expect((await getTask(db, tasks[1]!.id))!.status).toBe('pending');
    // Promoting the senior is a tier change: its consequence routes what waits.
    await promoteAgent(db, 'agent-bugfix-senior', { actor: 'alice' });
    await events.emit({ kind: 'tier.changed', agent: 'agent-bugfix-senior', from: 'senior', to: 'principal', source: 'manual', actor: 'alice' });
    expect((await getTask(db, tasks[1]!.id))!).toMatchObject({ status: 'assigned', assigned_agent: 'agent-bugfix-senior' });
  });
});
