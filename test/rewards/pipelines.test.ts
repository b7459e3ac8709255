import { describe, expect, it } from 'vitest';
import type { PipelineEvent, PipelineOrigin } from '../../src/forges/event.js';
import { carriesReports, combinedStatus, matchPipeline, newestPerSequence, recordVerdict, type Verdicts } from '../../src/rewards/pipelines.js';

const HEAD = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';
const mr = { headSha: HEAD, branch: 'doom/7-health-check', number: 3 };
const gitlab = (source: string | null): PipelineOrigin => ({ kind: 'gitlab_pipeline', source });

type Seen = Pick<PipelineEvent, 'sha' | 'ref' | 'origin' | 'mergeRequestNumbers'>;
const event = (over: Partial<Seen>): Seen => ({ sha: HEAD, ref: 'doom/7-health-check', origin: gitlab('push'), mergeRequestNumbers: [], ...over });

describe('matchPipeline', () => {
  it.each<[string, Partial<Seen>, 'match' | 'ignore']>([
    ['a branch pipeline on the source branch', {}, 'match'],
    ['a merge request pipeline (the hook names the MR)', { ref: 'refs/merge-requests/3/head', origin: gitlab('merge_request_event'), mergeRequestNumbers: [3] }, 'match'],
    ['a merge request pipeline known by its ref only', { ref: 'refs/merge-requests/3/head', origin: gitlab('merge_request_event') }, 'match'],
    ["the target branch's pipeline on the MR's commit (fast-forward merge)", { ref: 'main' }, 'ignore'],
    ["another MR's pipeline on the same commit", { ref: 'refs/merge-requests/4/head', mergeRequestNumbers: [4] }, 'ignore'],
    ['a pipeline of another commit', { sha: 'c380d3acebd181f13629a25d2e2acca46ffe1e00' }, 'ignore'],
    ['a workflow run listing the PR', { ref: 'main', origin: { kind: 'workflow_run' }, mergeRequestNumbers: [3] }, 'match'],
    ['a push workflow run on main', { ref: 'main', origin: { kind: 'workflow_run' } }, 'ignore'],
    ['a commit status, which names no branch', { ref: '', origin: { kind: 'commit_status', context: 'codecov/patch' } }, 'match'],
  ])('%s', (_, over, expected) => {
    expect(matchPipeline(mr, event(over)).kind).toBe(expected);
  });

  it('says why it ignores one', () => {
    expect(matchPipeline(mr, event({ ref: 'main' }))).toEqual({ kind: 'ignore', why: 'a pipeline of main, not of the merge request' });
    expect(matchPipeline({ ...mr, number: null }, event({}))).toEqual({ kind: 'ignore', why: 'the task has no merge request yet' });
  });
});

describe('recordVerdict', () => {
  const run = { kind: 'workflow_run' } as const;
  const codecov = { kind: 'check_suite', app: 'codecov' } as const;
  const known: Verdicts = { workflow_run: { id: 13867513069, status: 'success' } };

  it('a check suite never competes with workflow-run ids, and is read for its verdict only', () => {
    // Check suite ids are far larger than run ids: compared as one sequence, it would win or lose by accident.
    const step = recordVerdict(known, { origin: codecov, pipelineId: 32733614876, status: 'failed' });
    expect(step).toEqual({
      kind: 'record',
      readReports: false,
      verdicts: { workflow_run: { id: 13867513069, status: 'success' }, 'check_suite:codecov': { id: 32733614876, status: 'failed' } },
    });
    const older = recordVerdict(known, { origin: codecov, pipelineId: 5, status: 'success' });
    expect(older).toMatchObject({ kind: 'record', readReports: false });
  });

  it('within a sequence: an older id is stale, the same id with the same status a redelivery, a re-run is read', () => {
    expect(recordVerdict(known, { origin: run, pipelineId: 13867500000, status: 'failed' }).kind).toBe('stale');
    expect(recordVerdict(known, { origin: run, pipelineId: 13867513069, status: 'success' }).kind).toBe('stale');
    expect(recordVerdict(known, { origin: run, pipelineId: 13867513069, status: 'failed' })).toMatchObject({ kind: 'record', readReports: true });
    expect(recordVerdict(known, { origin: run, pipelineId: 13867600000, status: 'success' })).toMatchObject({ kind: 'record', readReports: true });
  });

  it('each status context is its own sequence', () => {
    const patch = { kind: 'commit_status', context: 'codecov/patch' } as const;
    const project = { kind: 'commit_status', context: 'codecov/project' } as const;
    const first = recordVerdict({}, { origin: patch, pipelineId: 900, status: 'success' });
    if (first.kind !== 'record') throw new Error('expected a record');
    expect(recordVerdict(first.verdicts, { origin: project, pipelineId: 800, status: 'success' }).kind).toBe('record');
  });

  it('reports are read from workflow runs and GitLab pipelines only', () => {
    expect(carriesReports({ kind: 'workflow_run' })).toBe(true);
    expect(carriesReports(gitlab(null))).toBe(true);
    expect(carriesReports(codecov)).toBe(false);
    expect(carriesReports({ kind: 'commit_status', context: 'ci/jenkins' })).toBe(false);
  });
});

describe('newestPerSequence', () => {
  it('keeps the highest id of each sequence; ids of different sequences are never compared', () => {
    const run = (pipelineId: number, origin: PipelineOrigin) => ({ pipelineId, origin });
    const codecov: PipelineOrigin = { kind: 'check_suite', app: 'codecov' };
    expect(newestPerSequence([run(5, { kind: 'workflow_run' }), run(900, codecov), run(7, { kind: 'workflow_run' }), run(899, codecov), run(1, { kind: 'commit_status', context: 'ci' })])).toEqual([
      run(7, { kind: 'workflow_run' }),
      run(900, codecov),
      run(1, { kind: 'commit_status', context: 'ci' }),
    ]);
    expect(newestPerSequence([])).toEqual([]);
  });
});

describe('combinedStatus', () => {
  const v = (...statuses: Verdicts[string]['status'][]): Verdicts => Object.fromEntries(statuses.map((status, i) => [`s${i}`, { id: i, status }]));
  it.each<[Verdicts, string]>([
    [v('success'), 'success'],
    [v('success', 'success'), 'success'],
    [v('success', 'failed'), 'failed'],
    [v('canceled', 'success'), 'canceled'],
    [v('failed', 'canceled'), 'failed'],
    [v('success', 'neutral', 'skipped'), 'success'],
    [v('neutral'), 'neutral'],
    [v('skipped'), 'skipped'],
  ])('%j → %s', (verdicts, expected) => {
    expect(combinedStatus(verdicts)).toBe(expected);
  });
});
