import { describe, expect, it } from 'vitest';
import { nextMergeRequest } from '../../src/tasks/merge-request.js';

describe('nextMergeRequest', () => {
  it.each([
    ['never published', null, null, { kind: 'same' }],
    ['open', 4, 'open', { kind: 'same' }],
    ['merged', 4, 'merged', { kind: 'new', reason: 'merge request !4 was merged' }],
    ['closed', 4, 'closed', { kind: 'new', reason: 'merge request !4 was closed' }],
    ['gone', 4, 'missing', { kind: 'new', reason: 'merge request !4 no longer exists' }],
  ] as const)('%s', (_name, pr, state, expected) => {
    expect(nextMergeRequest({ pr_number: pr }, state)).toEqual(expected);
  });
});
