/**
 * A property over the real handlers (TaskService, RunCoordinator, Evaluator, the inbox
 * dispatcher over GitLab's documented payloads) with the in-memory FakeForge: for any order
 * and any duplication of the deliveries of a task's merge request — its pipelines (an older
 * failed one, the head's), a review, a reaction, the merge or the close, and copies of the
 * labeling redelivered after the task finished — the final store is the same: rewards, their
 * settled order, tiers, tier history, number of comments.
 *
 * The forge holds its final state throughout (the webhooks of a life that has happened are
 * what is being delivered, late and out of order), including the head commit's pipeline list,
 * which the evaluator reads before a reward settles. 300 histories with a fixed seed in
 * `npm test`; `DOOM_PROPERTY_RUNS=5000 npx vitest run test/tasks/lifecycle.property.test.ts`
 * for more (and `DOOM_PROPERTY_SEED` for another seed).
 *
 * Not covered here: GitHub's sequences (test/rewards/matching-github.test.ts covers them one
 * by one), and a real relabel (a later `updated_at`), which starts another attempt and so
 * another merge request with deliveries of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wireRunConsequences, wireTaskConsequences } from '../../src/app.js';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { DomainEvents } from '../../src/events.js';
import type { PipelineRun } from '../../src/forges/event.js';
import { normalizeGitLab } from '../../src/forges/gitlab/normalize.js';
import { dispatcher } from '../../src/inbox/dispatch.js';
import { createLogger } from '../../src/log.js';
import { Evaluator } from '../../src/rewards/evaluator.js';
import { syncAgents } from '../../src/store/agents.js';
import { openStore } from '../../src/store/db.js';
import type { Delivery } from '../../src/store/schema.js';
import { RunCoordinator } from '../../src/tasks/runs.js';
import { TaskService } from '../../src/tasks/service.js';
import { MirrorCache } from '../../src/workspace/mirror.js';
import { repoRoot } from '../helpers/app.js';
import { gitlabFixture } from '../helpers/fixtures.js';
import { labeledIssue } from '../helpers/issues.js';
import { scriptedExecutor } from '../support/executor.js';
import { FakeForge } from '../support/fake-forge.js';

const RUNS = Number(process.env.DOOM_PROPERTY_RUNS ?? 300);
const SEED = Number(process.env.DOOM_PROPERTY_SEED ?? 20_260_509);
const CLONE = 'https://gitlab.example.com/gitlabhq/gitlab-test.git';
const log = createLogger({ level: 'silent' });
const alice = { id: 7, login: 'alice', isBot: false };

type Outcome = 'merged' | 'closed';
interface Hook {
  event: string;
  body: unknown;
}

let scratch: string;
let loaded: LoadedConfig;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'doom-property-'));
  loaded = loadConfig(join(repoRoot, 'config/doom-rlvr.toml'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let deliveryId = 0;
const delivery = (hook: Hook): Delivery => ({
  id: ++deliveryId,
  forge: 'gitlab',
  delivery_id: String(deliveryId),
  event: hook.event,
  body: JSON.stringify(hook.body),
  received_at: '',
  status: 'processing',
  attempts: 1,
  next_attempt_at: '',
  last_error: null,
  processed_at: null,
});

/** A Pipeline Hook as the forge's pipeline list shows the same pipeline. */
function asRun(hook: unknown): PipelineRun {
  const [event] = normalizeGitLab('Pipeline Hook', hook);
  if (event?.kind !== 'pipeline') throw new Error('not a pipeline hook');
  return event;
}

/** The MR's deliveries once it exists: what the generated histories reorder and repeat. */
function lifeOf(issue: ReturnType<typeof labeledIssue>, headSha: string, outcome: Outcome): Hook[] {
  const project = issue.project;
  const pipeline = (id: number, status: string) => {
    const hook = gitlabFixture('pipeline-hook.json');
    hook.project = project;
    hook.object_attributes = { ...hook.object_attributes, id, iid: id, sha: headSha, status, coverage: status === 'success' ? '82.5' : null, ref: 'refs/merge-requests/1/head' };
    hook.merge_request = { ...hook.merge_request, iid: 1 };
    return { event: 'Pipeline Hook', body: hook };
  };
  const mergeRequest = (action: string, state: string) => {
    const hook = gitlabFixture('merge-request-hook.json');
    hook.project = project;
    hook.object_attributes = { ...hook.object_attributes, iid: 1, action, state, source_branch: 'doom/1-fix-the-greeting', target_branch: 'main' };
    hook.user = { ...hook.user, id: 7, username: 'alice', name: 'Alice' };
    return { event: 'Merge Request Hook', body: hook };
  };
  const emoji = gitlabFixture('emoji-hook.json');
  emoji.project = project;
  return [
    pipeline(150, 'failed'),
    pipeline(200, 'success'),
    mergeRequest('approved', 'opened'),
    { event: 'Emoji Hook', body: emoji },
    outcome === 'merged' ? mergeRequest('merge', 'merged') : mergeRequest('close', 'closed'),
    // A copy of the labeling (a redelivery, with a new delivery id) after the task finished.
    { event: 'Issue Hook', body: issue },
  ];
}

interface History {
  outcome: Outcome;
  /** How many times the labeled hook is delivered before the run finishes. */
  labeled: number;
  /** The MR's deliveries by index into lifeOf, in delivery order; each at least once. */
  order: number[];
}

/** Plays one history against a fresh store; returns what must not depend on the order. */
async function play(history: History) {
  const store = await openStore(':memory:');
  try {
    await syncAgents(store.db, loaded.agents);
    const { config } = loaded;
    const forge = new FakeForge('gitlab');
    forge.permissions.set('root', 'write').set('alice', 'write');
    const issue = labeledIssue(CLONE);
    forge.issues.set(23, { number: 23, state: 'open', labels: issue.labels.map((l: { title: string }) => l.title), title: 'Fix the greeting', body: 'The greeting is wrong.' });
    forge.pipelines.push({ id: 100, sha: 'b'.repeat(40), coverage: 80, ref: 'main' });

    const events = new DomainEvents(log);
    const forges = forge.directory();
    const tasks = new TaskService({ db: store.db, config, forges, log, events });
    const runs = new RunCoordinator({ db: store.db, config, forges, executor: scriptedExecutor(), tasks, events, log });
    wireTaskConsequences(events, tasks);
    wireRunConsequences(events, tasks, runs);
    const mirrors = new MirrorCache({ root: join(scratch, 'mirrors'), diskBudgetBytes: 1 });
    const evaluator = new Evaluator({ db: store.db, config, forges, mirrors, log, events });
    const handle = dispatcher({
      issue: (e) => tasks.onIssueEvent(e),
      pipeline: (e) => evaluator.onPipeline(e),
      review: (e) => evaluator.onReview(e),
      merge_request: (e) => evaluator.onMergeRequest(e),
    });
    await runs.start();
    try {
      // Redeliveries of the label come while the first attempt is under way; one that came
      // after the task finished would be a relabel (another attempt), which is not this property.
      for (let i = 0; i < history.labeled; i++) await handle(delivery({ event: 'Issue Hook', body: issue }));
      await runs.idle();
      const task = await store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow();
      // The life happened: the forge shows its end while the deliveries still come in.
      const mr = forge.mergeRequests[0]!;
      Object.assign(mr, { headSha: task.head_sha!, state: history.outcome });
      forge.headRuns = lifeOf(issue, task.head_sha!, history.outcome).filter((h) => h.event === 'Pipeline Hook').map((h) => asRun(h.body));
      forge.reviewsByMr.set(1, [{ user: alice, state: 'approved', at: null }]);
      forge.reactionsByMr.set(1, [{ user: alice, kind: 'up' }]);
      const life = lifeOf(issue, task.head_sha!, history.outcome);
      for (const i of history.order) await handle(delivery(life[i]!));
      await runs.idle();
    } finally {
      await runs.stop();
    }
    const db = store.db;
    return {
      tasks: await db.selectFrom('tasks').select(['status', 'pr_number', 'assigned_agent']).orderBy('id').execute(),
      rewards: await db.selectFrom('rewards').select(['task_id', 'agent_name', 'reward', 'kind', 'degraded', 'components']).orderBy('updated_at').orderBy('id').execute(),
      agents: await db.selectFrom('agents').select(['name', 'tier', 'rolling_avg', 'total_tasks', 'completed_tasks']).orderBy('name').execute(),
      tierHistory: await db.selectFrom('tier_history').select(['agent_name', 'from_tier', 'to_tier', 'source']).where('source', '!=', 'config').orderBy('id').execute(),
      comments: forge.commentCount(),
      mergeRequests: forge.mergeRequests.length,
    };
  } finally {
    await store.close();
  }
}

const LIFE = 6;
const history: fc.Arbitrary<History> = fc.record({
  outcome: fc.constantFrom<Outcome>('merged', 'closed'),
  // One label delivery: a second one after the run finished counts as a relabel (see the header).
  labeled: fc.integer({ min: 1, max: 3 }),
  extra: fc.array(fc.nat(LIFE - 1), { maxLength: LIFE }),
}).chain(({ outcome, labeled, extra }) => {
  const all = [...Array.from({ length: LIFE }, (_, i) => i), ...extra];
  return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }).map((order) => ({ outcome, labeled, order }));
});

describe('a task\'s life, delivered in any order and any number of times', () => {
  it(`ends in the same store (${RUNS} histories)`, async () => {
    const expected = new Map<Outcome, Awaited<ReturnType<typeof play>>>();
    for (const outcome of ['merged', 'closed'] as const) {
      expected.set(outcome, await play({ outcome, labeled: 1, order: Array.from({ length: LIFE }, (_, i) => i) }));
    }
    // The canonical histories say something: a final reward, one MR, one comment per thread.
    expect(expected.get('merged')).toMatchObject({ rewards: [{ kind: 'final' }], mergeRequests: 1, comments: 2 });
    // The head pipeline (200) succeeded: whatever came first, CI is green in the final reward.
    expect(JSON.parse(expected.get('merged')!.rewards[0]!.components)).toMatchObject({ ci_pipeline_status: 1 });
    expect(expected.get('closed')!.rewards[0]!.reward).toBeLessThan(expected.get('merged')!.rewards[0]!.reward);

    await fc.assert(
      fc.asyncProperty(history, async (h) => {
        expect(await play(h)).toEqual(expected.get(h.outcome));
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
