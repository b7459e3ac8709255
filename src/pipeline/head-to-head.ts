/**
 * Head-to-head evidence for the router, pure. Two candidates of different agents on the same
 * task are compared on the same code, the same issue and the same checks, which makes their
 * outcome far less noisy than two rewards on different tasks. A Bradley–Terry model turns the
 * stored pairs (store/pipeline.ts `headToHead`) into one strength per agent: P(i beats j) =
 * s_i / (s_i + s_j), fitted by the usual minorization–maximization iteration (Hunter 2004),
 * with one virtual win and loss against an average agent each so that an agent that never
 * lost does not run off to infinity.
 *
 * The router reads these strengths through its book (routing/book.ts): `head_to_head_weight` ×
 * ln s is added to an agent's score (README *Routing*, *Head-to-head*).
 *
 * ```ts
 * const strengths = bradleyTerry(await headToHead(db)); // Map { 'agent-b' => 2.1, 'agent-a' => 0.5 }
 * ```
 */
export interface Pair {
  winner_agent: string;
  loser_agent: string;
}

/** Strengths with geometric mean 1, by agent; agents without pairs are absent. */
export function bradleyTerry(pairs: readonly Pair[], iterations = 200): Map<string, number> {
  const agents = [...new Set(pairs.flatMap((p) => [p.winner_agent, p.loser_agent]))];
  const wins = new Map(agents.map((a) => [a, 1])); // the virtual win
  const games = new Map<string, Map<string, number>>(agents.map((a) => [a, new Map()]));
  const meet = (a: string, b: string) => games.get(a)!.set(b, (games.get(a)!.get(b) ?? 0) + 1);
  for (const p of pairs) {
    wins.set(p.winner_agent, wins.get(p.winner_agent)! + 1);
    meet(p.winner_agent, p.loser_agent);
    meet(p.loser_agent, p.winner_agent);
  }
  let s = new Map(agents.map((a) => [a, 1]));
  for (let it = 0; it < iterations; it++) {
    const next = new Map<string, number>();
    for (const a of agents) {
      // Two virtual games against an agent of strength 1: one won (counted in wins), one lost.
      let denom = 2 / (s.get(a)! + 1);
      for (const [b, n] of games.get(a)!) denom += n / (s.get(a)! + s.get(b)!);
      next.set(a, wins.get(a)! / denom);
    }
    const g = Math.exp([...next.values()].reduce((sum, v) => sum + Math.log(v), 0) / agents.length);
    s = new Map([...next].map(([a, v]) => [a, v / g]));
  }
  return s;
}

/** P(a's candidate beats b's) under the fitted strengths; 0.5 when either has no pairs. */
export function winProbability(strengths: ReadonlyMap<string, number>, a: string, b: string): number {
  const sa = strengths.get(a);
  const sb = strengths.get(b);
  return sa === undefined || sb === undefined ? 0.5 : sa / (sa + sb);
}
