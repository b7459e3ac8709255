/** Which agents make the candidates, and what their head-to-head record says of them. */
import { describe, expect, it } from 'vitest';
import { pickCandidates } from '../../src/pipeline/agents.js';
import { bradleyTerry, winProbability } from '../../src/pipeline/head-to-head.js';

const pairs = (list: [string, string, number][]) => list.flatMap(([w, l, n]) => Array.from({ length: n }, () => ({ winner_agent: w, loser_agent: l })));

describe('bradleyTerry', () => {
  it('ranks agents by their head-to-head record, with probabilities that follow it', () => {
    const s = bradleyTerry(pairs([['b', 'a', 8], ['a', 'b', 2], ['b', 'c', 9], ['c', 'b', 1], ['a', 'c', 6], ['c', 'a', 4]]));
    expect([...s.entries()].sort((x, y) => y[1] - x[1]).map(([a]) => a)).toEqual(['b', 'a', 'c']);
    expect(winProbability(s, 'b', 'a')).toBeGreaterThan(0.6);
    expect(winProbability(s, 'b', 'a') + winProbability(s, 'a', 'b')).toBeCloseTo(1);
  });

  it('keeps an unbeaten agent finite, and gives even odds to two with the same record', () => {
    const s = bradleyTerry(pairs([['a', 'b', 5]]));
    expect(Number.isFinite(s.get('a'))).toBe(true);
    expect(winProbability(s, 'a', 'b')).toBeGreaterThan(0.7);
    const even = bradleyTerry(pairs([['a', 'b', 3], ['b', 'a', 3]]));
    expect(winProbability(even, 'a', 'b')).toBeCloseTo(0.5);
    expect(winProbability(even, 'a', 'nobody')).toBe(0.5);
  });
});

describe('pickCandidates', () => {
  it.each([
    ['the assigned agent first, then the router\'s order', 'a', ['b', 'c'], 3, [], ['a:0', 'b:0', 'c:0']],
    ['the same agents again, as other variants, when the pool is short', 'a', ['b'], 3, [], ['a:0', 'b:0', 'a:1']],
    ['one agent makes every candidate when it is the pool', 'a', [], 2, [], ['a:0', 'a:1']],
    ['open breakers sit it out, the assigned agent too', 'a', ['b', 'c'], 3, ['a', 'c'], ['b:0', 'b:1', 'b:2']],
    ['nobody when every breaker is open', 'a', ['b'], 2, ['a', 'b'], []],
    ['the assigned agent once, even when the router ranks it too', 'a', ['a', 'b'], 2, [], ['a:0', 'b:0']],
  ] as const)('%s', (_name, primary, ranked, k, open, slots) => {
    expect(pickCandidates(primary, ranked, k, new Set(open)).map((s) => `${s.agent}:${s.variant}`)).toEqual(slots);
  });
});
