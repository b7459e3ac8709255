/**
 * What an agent's settled outcomes say about its mean reward, as plain arithmetic over
 * sufficient statistics (count, sum, sum of squares), so that adding one outcome is O(1) and
 * a decision never re-reads history.
 *
 * The model is Normal–Normal. Each outcome is the agent's mean plus noise of spread σ; σ is
 * estimated from the agent's own outcomes, pulled toward `prior.sd` as if `prior.weight`
 * outcomes of that spread had been seen (so two equal rewards do not claim certainty).
 * - The agent's overall mean is shrunk toward the fleet's mean by the same pseudo-count.
 * - Its mean for one task type has the overall mean as its prior mean, with the overall
 *   mean's own uncertainty plus σ²/`typeWeight` as prior variance: a type the agent has not
 *   done yet is its overall record, a type it has done often is its own.
 *
 * ```ts
 * const t = emptyTotals(); addOutcome(t, 3.1); addOutcome(t, 2.4);
 * const overall = agentPosterior(t, { mean: 1, sd: 1.5, weight: 2 });
 * const bugfix = typePosterior(overall, byType.bugfix ?? emptyTotals(), 3);
 * const { lower, upper } = meanBounds(t, prior, 1.645); // what tiers decide on
 * ```
 */

/** Sufficient statistics of a list of outcomes. */
export interface Totals {
  n: number;
  sum: number;
  sumSq: number;
}

export interface Prior {
  /** Where an agent with no outcomes is believed to stand (the fleet's mean). */
  mean: number;
  /** The spread of one outcome before any is seen. */
  sd: number;
  /** How many outcomes the prior is worth. */
  weight: number;
}

/** A Normal belief about a mean: its centre, its standard deviation, and the outcomes behind it. */
export interface Posterior {
  mean: number;
  sd: number;
  n: number;
  /** The estimated spread of one outcome (σ). */
  noiseSd: number;
}

export const emptyTotals = (): Totals => ({ n: 0, sum: 0, sumSq: 0 });

/** Adds `count` outcomes of `value` in place (a failed run is one outcome of the failed-run reward). */
export function addOutcome(t: Totals, value: number, count = 1): Totals {
  t.n += count;
  t.sum += value * count;
  t.sumSq += value * value * count;
  return t;
}

export function mergeTotals(a: Totals, b: Totals): Totals {
  return { n: a.n + b.n, sum: a.sum + b.sum, sumSq: a.sumSq + b.sumSq };
}

/** σ² of one outcome: the outcomes' own squared deviations plus `weight` pseudo-outcomes of spread `sd`. */
export function noiseVariance(t: Totals, prior: Pick<Prior, 'sd' | 'weight'>): number {
  const ss = t.n > 0 ? Math.max(0, t.sumSq - (t.sum * t.sum) / t.n) : 0;
  return (prior.weight * prior.sd * prior.sd + ss) / (prior.weight + t.n);
}

/** The agent's overall mean, shrunk toward the fleet's by `prior.weight` pseudo-outcomes. */
export function agentPosterior(t: Totals, prior: Prior): Posterior {
  const variance = noiseVariance(t, prior);
  const k = prior.weight + t.n;
  return { mean: (prior.weight * prior.mean + t.sum) / k, sd: Math.sqrt(variance / k), n: t.n, noiseSd: Math.sqrt(variance) };
}

/**
 * The agent's mean on one task type: the Normal prior N(overall.mean, overall.sd² + σ²/typeWeight)
 * updated by the type's outcomes, each of variance σ².
 */
export function typePosterior(overall: Posterior, t: Totals, typeWeight: number): Posterior {
  const noise = overall.noiseSd * overall.noiseSd;
  const priorVar = overall.sd * overall.sd + noise / typeWeight;
  if (t.n === 0) return { mean: overall.mean, sd: Math.sqrt(priorVar), n: 0, noiseSd: overall.noiseSd };
  const precision = 1 / priorVar + t.n / noise;
  const mean = (overall.mean / priorVar + t.sum / noise) / precision;
  return { mean, sd: Math.sqrt(1 / precision), n: t.n, noiseSd: overall.noiseSd };
}

/**
 * `typePosterior(agentPosterior(t, prior), typed, typeWeight)` without allocating, for the
 * router's loop over thousands of agents: the mean is returned and the sd written to `out`.
 */
export function typeMeanSd(t: Totals, typed: Totals | undefined, prior: Prior, typeWeight: number, out: { sd: number }): number {
  const ss = t.n > 0 ? Math.max(0, t.sumSq - (t.sum * t.sum) / t.n) : 0;
  const noise = (prior.weight * prior.sd * prior.sd + ss) / (prior.weight + t.n);
  const k = prior.weight + t.n;
  const mean = (prior.weight * prior.mean + t.sum) / k;
  const priorVar = noise / k + noise / typeWeight;
  if (!typed || typed.n === 0) {
    out.sd = Math.sqrt(priorVar);
    return mean;
  }
  const precision = 1 / priorVar + typed.n / noise;
  out.sd = Math.sqrt(1 / precision);
  return (mean / priorVar + typed.sum / noise) / precision;
}

export interface MeanBounds {
  n: number;
  mean: number;
  /** mean − z·se and mean + z·se. */
  lower: number;
  upper: number;
  /** z·se: the "±" shown beside the mean. */
  halfWidth: number;
}

/**
 * The agent's own mean (no pull toward the fleet: a tier is about this agent) with bounds
 * `z` standard errors wide; the standard error uses the prior-weighted σ, so a handful of
 * equal rewards still leaves the bounds wide. Null with no outcomes.
 */
export function meanBounds(t: Totals, prior: Pick<Prior, 'sd' | 'weight'>, z: number): MeanBounds | null {
  if (t.n === 0) return null;
  const mean = t.sum / t.n;
  const halfWidth = z * Math.sqrt(noiseVariance(t, prior) / t.n);
  return { n: t.n, mean, lower: mean - halfWidth, upper: mean + halfWidth, halfWidth };
}

/** "3.20 ± 0.45 (n=12)", or "no outcomes yet". */
export function formatBounds(b: MeanBounds | null): string {
  return b ? `${b.mean.toFixed(2)} ± ${b.halfWidth.toFixed(2)} (n=${b.n})` : 'no outcomes yet';
}

/** A standard normal draw from a uniform source (Box–Muller), so tests can inject a seeded one. */
export function gaussian(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** mulberry32: a small seeded uniform generator for tests, the simulator and reproducible runs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
