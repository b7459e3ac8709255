/**
 * The phases as a small DAG, executed from data: each phase names the phases it comes after,
 * and the engine runs whichever enabled phase has all its enabled predecessors behind it. A
 * phase the policy leaves out is skipped over, so a later issue adds `brief` and `plan` by
 * marking them built and giving them a handler, without touching the others.
 *
 * ```ts
 * const order = phaseOrder(['spec', 'implement', 'review', 'merge']);
 * const next = decideNext(order, state.phases); // { kind: 'run', phase: 'spec' }
 * ```
 */
import type { PhaseName, PhaseRecord } from './schemas.js';

export interface PhaseNode {
  name: PhaseName;
  /** Phases this one comes after, when they are enabled. */
  after: readonly PhaseName[];
  /** Whether this build has a handler for it (brief and plan come in a later issue). */
  built: boolean;
  /** Phases a policy cannot leave out: without them nothing reaches the merge request. */
  required: boolean;
}

export const phaseDag: readonly PhaseNode[] = [
  { name: 'spec', after: [], built: true, required: false },
  { name: 'brief', after: ['spec'], built: false, required: false },
  { name: 'plan', after: ['spec', 'brief'], built: false, required: false },
  { name: 'tests', after: ['spec', 'brief', 'plan'], built: true, required: false },
  { name: 'implement', after: ['spec', 'brief', 'plan', 'tests'], built: true, required: true },
  { name: 'review', after: ['implement'], built: true, required: true },
  { name: 'repair', after: ['review'], built: true, required: false },
  { name: 'merge', after: ['review', 'repair'], built: true, required: true },
  { name: 'docs', after: ['merge'], built: true, required: false },
];

const nodeOf = (name: PhaseName, dag: readonly PhaseNode[]): PhaseNode => {
  const node = dag.find((n) => n.name === name);
  if (!node) throw new Error(`phase ${name} is not in the DAG`);
  return node;
};

/** Why a policy's phase list cannot run, or null. Checked when the config is loaded. */
export function phasesProblem(phases: readonly PhaseName[], dag: readonly PhaseNode[] = phaseDag): string | null {
  const unbuilt = phases.filter((p) => !nodeOf(p, dag).built);
  if (unbuilt.length > 0) return `phase ${unbuilt.join(', ')} is not built yet (a later version adds it); leave it out of phases`;
  const missing = dag.filter((n) => n.required && !phases.includes(n.name)).map((n) => n.name);
  if (missing.length > 0) return `phases must include ${missing.join(', ')}`;
  return null;
}

/**
 * The enabled phases in an order that respects every edge between them (Kahn's algorithm,
 * ties broken by the DAG's own order so the result is stable). Throws on a cycle.
 */
export function phaseOrder(enabled: readonly PhaseName[], dag: readonly PhaseNode[] = phaseDag): PhaseName[] {
  const on = dag.filter((n) => enabled.includes(n.name));
  const waiting = new Map(on.map((n) => [n.name, new Set(n.after.filter((a) => enabled.includes(a)))]));
  const order: PhaseName[] = [];
  while (waiting.size > 0) {
    const ready = on.find((n) => waiting.get(n.name)?.size === 0);
    if (!ready) throw new Error(`the phase DAG has a cycle among ${[...waiting.keys()].join(', ')}`);
    order.push(ready.name);
    waiting.delete(ready.name);
    for (const deps of waiting.values()) deps.delete(ready.name);
  }
  return order;
}

export type NextPhase =
  | { kind: 'run'; phase: PhaseName }
  | { kind: 'skip'; phase: PhaseName; why: string }
  | { kind: 'end' };

/**
 * Pure: what the engine does next. A phase whose enabled predecessor failed is skipped (and
 * so, in turn, are its own successors); a stopped phase (budget) kept its output, so what
 * comes after it runs on what there is.
 */
export function decideNext(
  order: readonly PhaseName[],
  records: Partial<Record<PhaseName, Pick<PhaseRecord, 'status'>>>,
  dag: readonly PhaseNode[] = phaseDag,
): NextPhase {
  for (const phase of order) {
    const status = records[phase]?.status ?? 'pending';
    if (status !== 'pending' && status !== 'running') continue;
    const failed = nodeOf(phase, dag).after.filter((a) => order.includes(a) && records[a]?.status === 'failed');
    if (failed.length > 0) return { kind: 'skip', phase, why: `after ${failed.join(', ')}, which failed` };
    const skippedAfterFailure = nodeOf(phase, dag).after.filter((a) => order.includes(a) && records[a]?.status === 'skipped' && isBlocked(a, order, records, dag));
    if (skippedAfterFailure.length > 0) return { kind: 'skip', phase, why: `after ${skippedAfterFailure.join(', ')}, which could not run` };
    return { kind: 'run', phase };
  }
  return { kind: 'end' };
}

/** Whether `phase` was skipped because something before it failed (not merely not needed). */
function isBlocked(
  phase: PhaseName,
  order: readonly PhaseName[],
  records: Partial<Record<PhaseName, Pick<PhaseRecord, 'status'>>>,
  dag: readonly PhaseNode[],
): boolean {
  return nodeOf(phase, dag).after.some(
    (a) => order.includes(a) && (records[a]?.status === 'failed' || (records[a]?.status === 'skipped' && isBlocked(a, order, records, dag))),
  );
}
