/** The reward report on a bot merge request: one comment, edited in place as signals arrive. */
import type { Weights } from '../config/schema.js';
import type { MergeRequestState } from '../store/schema.js';
import type { CoverageBasis } from './components.js';
import { componentNames, componentScores, componentSpec, type RewardComponents } from './formula.js';

export const rewardMarker = (taskId: number): string => `<!-- doom-rlvr:reward:${taskId} -->`;

export interface ReportView {
  taskId: number;
  agent: string;
  kind: 'provisional' | 'final';
  reward: number;
  components: RewardComponents;
  weights: Weights;
  /** What the coverage component was computed from; absent or null: a default. */
  coverage?: CoverageBasis | null;
  /** The merge request's state the reward was computed for (a closed one earns no credit). */
  mrState?: MergeRequestState;
  degraded: Record<string, string>;
  /** Components a guard made take their defaults (a flagged change), with why; absent: none. */
  guarded?: Record<string, string>;
  rollingAvg: number;
  tier: string;
  /** Set when this reward moved the agent to another tier. */
  tierChange: { from: string; to: string; reason: string } | null;
  pipelineUrl: string | null;
}

const labels: Record<keyof RewardComponents, string> = {
  test_coverage_delta: 'Test coverage',
  lint_score: 'Lint',
  security_scan_score: 'Security scan',
  code_complexity_delta: 'Complexity delta',
  ci_pipeline_status: 'CI pipeline',
  review_feedback_score: 'Review feedback',
};

const signed = (n: number, digits = 2): string => (n > 0 ? `+${n.toFixed(digits)}` : n.toFixed(digits));

const percent = (n: number): string => `${n.toFixed(1)}%`;

/** How the coverage value was reached, shown beside it. */
function coverageNote(basis: CoverageBasis): string {
  if (basis.kind === 'project') {
    return ` (project coverage ${percent(basis.base)} → ${percent(basis.head)}; no patch coverage: ${basis.why})`;
  }
  const project = `the ${basis.against === 'base' ? "target branch's" : "head's"} ${percent(basis.projectPercent)}`;
  return ` (patch ${basis.covered}/${basis.coverable} changed lines, ${percent((basis.covered / basis.coverable) * 100)}, against ${project})`;
}

export function renderRewardReport(view: ReportView): string {
  const scores = componentScores(view.components, { mrState: view.mrState ?? null });
  const rows = componentNames.map((name) => {
    const weight = view.weights[componentSpec[name].weight];
    const value = view.components[name];
    const guardedWhy = view.guarded?.[name];
    const basis = name === 'test_coverage_delta' && view.coverage ? coverageNote(view.coverage) : '';
    const note = guardedWhy ? ` (guarded, default: ${guardedWhy})` : view.degraded[name] ? ` (default: ${view.degraded[name]})` : basis;
    return `| ${labels[name]} | ${signed(value)}${note} | ${signed(scores[name])} | ${weight.toFixed(2)} | ${signed(5 * weight * scores[name])} |`;
  });
  const lines = [
    rewardMarker(view.taskId),
    `### doom-rlvr reward: ${signed(view.reward)} (${view.kind})`,
    '',
    '| Component | Value | Score (−1…+1) | Weight | Points |',
    '|---|---|---|---|---|',
    ...rows,
    `| **Reward** | | | | **${signed(view.reward)}** |`,
    '',
  ];
  if (view.mrState === 'closed') {
    lines.push('Closed without merging: no component earns credit, only what speaks against the change counts.', '');
  }
  if (Object.keys(view.degraded).length > 0) {
    lines.push('Some signals could not be read; their components used configured defaults (the reward is marked degraded).', '');
  }
  if (Object.keys(view.guarded ?? {}).length > 0) {
    lines.push(
      'The change touches what CI, coverage or lint are computed from (see the top of the merge request): those components used configured defaults (the reward is marked guarded).',
      '',
    );
  }
  lines.push(
    `Agent \`${view.agent}\`: rolling average ${view.rollingAvg.toFixed(2)}, tier **${view.tier}**.` +
      (view.kind === 'provisional' ? ' The reward becomes final when this merge request is merged or closed.' : ''),
  );
  if (view.tierChange) lines.push('', `**Tier change:** ${view.tierChange.from} → ${view.tierChange.to} (${view.tierChange.reason}).`);
  if (view.pipelineUrl) lines.push('', `<sub>Pipeline: ${view.pipelineUrl}</sub>`);
  return lines.join('\n');
}
