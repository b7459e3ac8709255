/** The pipeline's line of `doom status`: its per-task metrics summed over the store. */
import type { PipelineSummary } from '../store/pipeline.js';

const share = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(0)}%`);

export function pipelineStatusLine(s: PipelineSummary): string {
  if (s.executions === 0) return 'pipeline   no executions yet';
  const latency = s.mean_duration_ms === null ? '-' : `${(s.mean_duration_ms / 1000).toFixed(1)} s`;
  return `pipeline   ${s.executions} executions, pass@1 ${share(s.pass_at_1)}, pass@k ${share(s.pass_at_k)}, cost $${s.cost_usd.toFixed(4)} (mean $${(s.mean_cost_usd ?? 0).toFixed(4)}), mean latency ${latency}, flake rate ${share(s.flake_rate)} of ${s.suite_reruns} re-runs`;
}

