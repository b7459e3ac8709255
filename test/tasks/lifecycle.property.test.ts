/**
 * A property over the real handlers (TaskService, RunCoordinator, Evaluator, the inbox
 * dispatcher over each forge's real payloads) with the in-memory FakeForge, on GitLab and on
 * GitHub: for any order and any duplication of the deliveries of a task's merge request — its
 * pipelines (an older failed run, the head's green one, the target branch's post-merge run on
 * the same commit; on GitHub also another App's check suite and a commit status), a review, a
 * reaction, the merge or the close, and copies of the labeling redelivered while the run is
 * under way and after the task finished — the final store is the same: rewards, their settled
 * order, tiers, tier history, number of comments.
 *
 * The forge holds its final state throughout (the webhooks of a life that has happened are
 * what is being delivered, late and out of order), including the head commit's pipeline list,
 * which the evaluator reads before a reward settles. 300 histories per forge with a fixed seed
 * in `npm test`; `DOOM_PROPERTY_RUNS=5000 npx vitest run test/tasks/lifecycle.property.test.ts`
 * for more (and `DOOM_PROPERTY_SEED` for another seed).
 *
 * Not covered: a real relabel (a later `updated_at`), which starts another attempt and so
 * another merge request with a life of its own; test/rewards/loop-*.test.ts cover it one path
 * at a time.
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
import { dispatcher, normalizeDelivery } from '../../src/inbox/dispatch.js';
import { createLogger } from '../../src/log.js';
import { Evaluator } from '../../src/rewards/evaluator.js';
import { syncAgents } from '../../src/store/agents.js';
import { openStore } from '../../src/store/db.js';
import type { Delivery } from '../../src/store/schema.js';
import { RunCoordinator } from '../../src/tasks/runs.js';
import { TaskService } from '../../src/tasks/service.js';
import { MirrorCache } from '../../src/workspace/mirror.js';
import { repoRoot } from '../helpers/app.js';
import { githubExample, gitlabFixture } from '../helpers/fixtures.js';
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

type Kind = 'github' | 'gitlab';

let deliveryId = 0;
const delivery = (forge: Kind, hook: Hook): Delivery => ({
  id: ++deliveryId,
  forge,
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

/** The pipelines among a life's deliveries, as the forge's list shows them. */
function runsOf(forge: Kind, life: Hook[]): PipelineRun[] {
  return life.flatMap((hook) => normalizeDelivery({ forge, event: hook.event, body: JSON.stringify(hook.body) })).filter((e) => e.kind === 'pipeline');
}

/** One forge's task: the labeled issue, and its merge request's deliveries once it exists. */
interface Script {
  issueNumber: number;
  issue: Hook;
  /** What the generated histories reorder and repeat: each is delivered at least once. */
  life(headSha: string, branch: string, outcome: Outcome): Hook[];
}

function gitlabScript(): Script {
  const issue = labeledIssue(CLONE);
  const project = issue.project;
  const pipeline = (id: number, status: string, ref: string) => {
    const hook = gitlabFixture('pipeline-hook.json');
    hook.project = project;
    hook.object_attributes = { ...hook.object_attributes, id, iid: id, sha: '', status, coverage: status === 'success' ? '82.5' : null, ref };
    hook.merge_request = ref === 'main' ? null : { ...hook.merge_request, iid: 1 };
    return hook;
  };
  const mergeRequest = (action: string, state: string, branch: string) => {
    const hook = gitlabFixture('merge-request-hook.json');
    hook.project = project;
    hook.object_attributes = { ...hook.object_attributes, iid: 1, action, state, source_branch: branch, target_branch: 'main' };
    hook.user = { ...hook.user, id: 7, username: 'alice', name: 'Alice' };
    return { event: 'Merge Request Hook', body: hook };
  };
  const emoji = gitlabFixture('emoji-hook.json');
  emoji.project = project;
  return {
    issueNumber: 23,
    issue: { event: 'Issue Hook', body: issue },
    life(headSha, branch, outcome) {
      const at = (hook: ReturnType<typeof pipeline>) => ({ event: 'Pipeline Hook', body: { ...hook, object_attributes: { ...hook.object_attributes, sha: headSha } } });
      return [
        at(pipeline(150, 'failed', 'refs/merge-requests/1/head')),
        at(pipeline(200, 'success', 'refs/merge-requests/1/head')),
        // main's pipeline on the same commit after a fast-forward merge: not the MR's.
        at(pipeline(300, 'failed', 'main')),
        mergeRequest('approved', 'opened', branch),
        { event: 'Emoji Hook', body: emoji },
        outcome === 'merged' ? mergeRequest('merge', 'merged', branch) : mergeRequest('close', 'closed', branch),
        // A copy of the labeling (a redelivery, with a new delivery id) after the task finished.
        { event: 'Issue Hook', body: issue },
      ];
    },
  };
}

function githubScript(): Script {
  const labeled = githubExample('issues', (e) => e.action === 'labeled');
  labeled.issue.labels.push({ ...labeled.label, id: 9001, name: 'doom' });
  labeled.label = { ...labeled.label, name: 'doom' };
  labeled.repository = { ...labeled.repository, clone_url: CLONE, default_branch: 'main' };
  const repository = labeled.repository;
  const alice = { ...labeled.sender, login: 'alice', id: 7 };
  return {
    issueNumber: labeled.issue.number,
    issue: { event: 'issues', body: labeled },
    life(headSha, branch, outcome) {
      const workflowRun = (id: number, conclusion: string, ref: string) => {
        const run = githubExample('workflow_run', (e) => e.action === 'completed' && e.workflow_run.pull_requests.length > 0);
        Object.assign(run.workflow_run, { id, conclusion, head_sha: headSha, head_branch: ref });
        run.workflow_run.pull_requests = ref === 'main' ? [] : [{ ...run.workflow_run.pull_requests[0], number: 1 }];
        return { event: 'workflow_run', body: { ...run, repository } };
      };
      const suite = githubExample('check_suite', (e) => e.action === 'completed');
      Object.assign(suite.check_suite, { id: 9000, conclusion: 'success', head_sha: headSha, head_branch: branch, app: { ...suite.check_suite.app, id: 254, slug: 'codecov' }, pull_requests: [] });
      const status = githubExample('status');
      Object.assign(status, { id: 5, sha: headSha, state: 'success', context: 'ci/circleci', repository });
      const review = githubExample('pull_request_review', (e) => e.action === 'submitted');
      review.pull_request = { ...review.pull_request, number: 1 };
      review.review = { ...review.review, state: 'approved', user: alice, commit_id: headSha };
      const closed = githubExample('pull_request', (e) => e.action === 'closed');
      closed.number = 1;
      Object.assign(closed.pull_request, { number: 1, merged: outcome === 'merged', merged_at: outcome === 'merged' ? '2026-11-21T11:00:00Z' : null, state: 'closed' });
      closed.pull_request.head = { ...closed.pull_request.head, ref: branch, sha: headSha };
      return [
        workflowRun(150, 'failure', branch),
        workflowRun(200, 'success', branch),
        // main's push run on the same commit after a rebase or fast-forward merge: not the PR's.
        workflowRun(300, 'failure', 'main'),
        { event: 'check_suite', body: { ...suite, repository } },
        { event: 'status', body: status },
        { event: 'pull_request_review', body: { ...review, repository } },
        { event: 'pull_request', body: { ...closed, repository } },
        { event: 'issues', body: labeled },
      ];
    },
  };
}

interface History {
  outcome: Outcome;
  /** How many times the labeled hook is delivered before the run finishes. */
  labeled: number;
  /** The MR's deliveries by index into the script's life, in delivery order; each at least once. */
  order: number[];
}

/** Plays one history against a fresh store; returns what must not depend on the order. */
async function play(kind: Kind, history: History) {
  const store = await openStore(':memory:');
  try {
    await syncAgents(store.db, loaded.agents);
    const { config } = loaded;
    const forge = new FakeForge(kind);
    forge.permissions.set('root', 'write').set('alice', 'write').set('Codertocat', 'write');
    const script = kind === 'gitlab' ? gitlabScript() : githubScript();
    forge.issues.set(script.issueNumber, { number: script.issueNumber, state: 'open', labels: ['doom', 'bug'], title: 'Fix the greeting', body: 'The greeting is wrong.' });
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
      // Redeliveries of the label come while the first attempt is under way, and (in the life)
      // after it finished.
      for (let i = 0; i < history.labeled; i++) await handle(delivery(kind, script.issue));
      await runs.idle();
      const task = await store.db.selectFrom('tasks').selectAll().executeTakeFirstOrThrow();
      // The life happened: the forge shows its end while the deliveries still come in.
      const mr = forge.mergeRequests[0]!;
      Object.assign(mr, { headSha: task.head_sha!, state: history.outcome });
      const life = script.life(task.head_sha!, task.branch!, history.outcome);
      forge.headRuns = runsOf(kind, life);
      forge.reviewsByMr.set(1, [{ user: alice, state: 'approved', at: null }]);
      forge.reactionsByMr.set(1, [{ user: alice, kind: 'up' }]);
      for (const i of history.order) await handle(delivery(kind, life[i]!));
      await runs.idle();
    } finally {
      await runs.stop();
    }
    const db = store.db;
    return {
      tasks: await db.selectFrom('tasks').select(['status', 'pr_number', 'assigned_agent']).orderBy('id').execute(),
      rewards: await db.selectFrom('rewards').select(['task_id', 'agent_name', 'reward', 'kind', 'degraded', 'components']).orderBy('settled_at').orderBy('id').execute(),
      agents: await db.selectFrom('agents').select(['name', 'tier', 'rolling_avg', 'total_tasks', 'completed_tasks']).orderBy('name').execute(),
      tierHistory: await db.selectFrom('tier_history').select(['agent_name', 'from_tier', 'to_tier', 'source']).where('source', '!=', 'config').orderBy('id').execute(),
      comments: forge.commentCount(),
      mergeRequests: forge.mergeRequests.length,
    };
  } finally {
    await store.close();
  }
}

const history = (size: number): fc.Arbitrary<History> =>
  fc.record({
    outcome: fc.constantFrom<Outcome>('merged', 'closed'),
    labeled: fc.integer({ min: 1, max: 3 }),
    extra: fc.array(fc.nat(size - 1), { maxLength: size }),
  }).chain(({ outcome, labeled, extra }) => {
    const all = [...Array.from({ length: size }, (_, i) => i), ...extra];
    return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }).map((order) => ({ outcome, labeled, order }));
  });

describe.each([
  ['gitlab', 7],
  ['github', 8],
] as const)('a task\'s life on %s, delivered in any order and any number of times', (kind, size) => {
  it(`ends in the same store (${RUNS} histories)`, async () => {
    const expected = new Map<Outcome, Awaited<ReturnType<typeof play>>>();
    for (const outcome of ['merged', 'closed'] as const) {
      expected.set(outcome, await play(kind, { outcome, labeled: 1, order: Array.from({ length: size }, (_, i) => i) }));
    }
    // The canonical histories say something: a final reward, one MR, one comment per thread.
    expect(expected.get('merged')).toMatchObject({ rewards: [{ kind: 'final' }], mergeRequests: 1, comments: 2 });
    // The head's newest run succeeded and main's failing run is not the MR's: CI is green.
    expect(JSON.parse(expected.get('merged')!.rewards[0]!.components)).toMatchObject({ ci_pipeline_status: 1 });
    expect(expected.get('closed')!.rewards[0]!.reward).toBeLessThan(expected.get('merged')!.rewards[0]!.reward);

    await fc.assert(
      fc.asyncProperty(history(size), async (h) => {
        expect(await play(kind, h)).toEqual(expected.get(h.outcome));
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
