import { describe, expect, it } from 'vitest';
import type { Permission, Reaction, ReviewVerdict } from '../../src/forges/forge.js';
import { peopleToCheck, reviewFeedback } from '../../src/rewards/review.js';

const user = (login: string, isBot = false) => ({ id: login.length, login, isBot });
const verdict = (login: string, state: ReviewVerdict['state'], isBot = false): ReviewVerdict => ({ user: user(login, isBot), state, at: null });
const reaction = (login: string, kind: Reaction['kind'], isBot = false): Reaction => ({ user: user(login, isBot), kind });
const access = (entries: Record<string, Permission>) => new Map(Object.entries(entries));

describe('reviewFeedback', () => {
  const base = { authorLogin: 'doom-rlvr[bot]', reactions: [] as Reaction[] };

  it('scores approvals, change requests, reactions and the outcome', () => {
    const permissions = access({ alice: 'write', bob: 'admin', carol: 'write' });
    expect(reviewFeedback({ ...base, verdicts: [verdict('alice', 'approved'), verdict('bob', 'approved')], state: 'merged', permissions }).score).toBe(1);
    expect(reviewFeedback({ ...base, verdicts: [], state: 'merged', permissions }).score).toBe(0.4);
    expect(reviewFeedback({ ...base, verdicts: [verdict('alice', 'changes_requested')], state: 'closed', permissions }).score).toBe(-0.9);
    expect(reviewFeedback({ ...base, verdicts: [verdict('alice', 'approved')], state: 'open', permissions }).score).toBe(0.3);
    const r = reviewFeedback({
      ...base,
      verdicts: [verdict('carol', 'commented')],
      reactions: [reaction('alice', 'up'), reaction('bob', 'down'), reaction('carol', 'up'), reaction('carol', 'other')],
      state: 'open',
      permissions,
    });
    expect(r).toMatchObject({ score: 0.1, up: 2, down: 1, approvals: [], changesRequested: [] });
  });

  it('a /doom feedback vote weighs 0.2, one per person, and only from people with write access', () => {
    const permissions = access({ alice: 'write', bob: 'maintain', reader: 'read' });
    const feedback = [
      { user: user('alice'), vote: 1 as const },
      { user: user('alice'), vote: -1 as const },
      { user: user('bob'), vote: -1 as const },
      { user: user('reader'), vote: 1 as const },
    ];
    const r = reviewFeedback({ ...base, verdicts: [verdict('alice', 'approved')], reactions: [reaction('bob', 'up')], feedback, state: 'open', permissions });
    // 0.3 (approval) + 0.2·(1 − 1) + 0.1 (👍)
    expect(r).toMatchObject({ score: 0.4, feedbackUp: 1, feedbackDown: 1 });
    expect(r.ignored).toContain('feedback +1 by reader');
    expect(reviewFeedback({ ...base, verdicts: [], feedback: [{ user: user('bob'), vote: -1 }], state: 'closed', permissions }).score).toBe(-0.8);
    expect(peopleToCheck([], [], feedback)).toEqual(['alice', 'bob', 'reader']);
  });

  it('each revision round costs 0.15: an MR that needed three rounds scores below one that needed none', () => {
    const permissions = access({ alice: 'write' });
    const approvedAndMerged = { ...base, verdicts: [verdict('alice', 'approved')], state: 'merged' as const, permissions };
    expect(reviewFeedback(approvedAndMerged).score).toBe(0.7);
    expect(reviewFeedback({ ...approvedAndMerged, rounds: 0 }).score).toBe(0.7);
    expect(reviewFeedback({ ...approvedAndMerged, rounds: 1 }).score).toBe(0.55);
    expect(reviewFeedback({ ...approvedAndMerged, rounds: 3 }).score).toBe(0.25);
    expect(reviewFeedback({ ...base, verdicts: [], state: 'closed', permissions, rounds: 5 }).score).toBe(-1);
  });

  it('counts only humans with write access, never bots or the author', () => {
    const permissions = access({ alice: 'write', reader: 'read', 'ci-bot': 'admin', 'doom-rlvr[bot]': 'admin' });
    const r = reviewFeedback({
      ...base,
      verdicts: [
        verdict('reader', 'approved'),
        verdict('ci-bot', 'approved', true),
        verdict('doom-rlvr[bot]', 'approved'),
        verdict('stranger', 'changes_requested'),
        verdict('alice', 'approved'),
      ],
      reactions: [reaction('reader', 'down'), reaction('ci-bot', 'down', true)],
      state: 'open',
      permissions,
    });
    expect(r.approvals).toEqual(['alice']);
    expect(r.changesRequested).toEqual([]);
    expect(r.score).toBe(0.3);
    expect(r.ignored).toEqual([
      'approved by reader',
      'approved by ci-bot',
      'approved by doom-rlvr[bot]',
      'changes_requested by stranger',
      '👎 by reader',
      '👎 by ci-bot',
    ]);
  });

  it('counts one reaction of a kind per person and clamps to [-1, 1]', () => {
    const permissions = access(Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((l) => [l, 'write' as Permission])));
    const many = reviewFeedback({
      ...base,
      verdicts: ['a', 'b', 'c', 'd', 'e'].map((l) => verdict(l, 'approved')),
      reactions: [reaction('a', 'up'), reaction('a', 'up'), reaction('a', 'up')],
      state: 'merged',
      permissions,
    });
    expect(many.up).toBe(1);
    expect(many.score).toBe(1);
    const worst = reviewFeedback({ ...base, verdicts: ['a', 'b', 'c'].map((l) => verdict(l, 'changes_requested')), state: 'closed', permissions });
    expect(worst.score).toBe(-1);
  });

  it('asks for the access of every human who reviewed or reacted, once', () => {
    expect(
      peopleToCheck(
        [verdict('bob', 'approved'), verdict('bot', 'approved', true), verdict('alice', 'commented')],
        [reaction('bob', 'up'), reaction('zed', 'other'), reaction('carol', 'down')],
      ),
    ).toEqual(['alice', 'bob', 'carol']);
  });
});
