/**
 * Which agents make the K candidates: the assigned agent first, then the router's next best
 * for the task, different agents while the pool has them, the same ones again (another
 * variant of the prompt) after that. Agents whose breaker is open sit it out. This is the
 * seam where the router's ranking enters; a later router (one that reads the head-to-head
 * pairs, see README *Pipeline*) changes `ranked`, not this.
 *
 * ```ts
 * pickCandidates('agent-a', ['agent-b', 'agent-c'], 3, new Set(['agent-c']));
 * // [{ agent: 'agent-a', variant: 0 }, { agent: 'agent-b', variant: 0 }, { agent: 'agent-a', variant: 1 }]
 * ```
 */
export interface CandidateSlot {
  agent: string;
  /** 0 for an agent's first candidate of the task, 1 for its second … */
  variant: number;
}

/** Pure: K slots from the assigned agent and the others in the router's order, skipping open breakers. */
export function pickCandidates(primary: string, ranked: readonly string[], k: number, open: ReadonlySet<string>): CandidateSlot[] {
  const pool = [primary, ...ranked.filter((a) => a !== primary)].filter((a) => !open.has(a));
  if (pool.length === 0) return [];
  const seen = new Map<string, number>();
  return Array.from({ length: k }, (_, i) => {
    const agent = pool[i % pool.length]!;
    const variant = seen.get(agent) ?? 0;
    seen.set(agent, variant + 1);
    return { agent, variant };
  });
}
