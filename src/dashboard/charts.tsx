/**
 * SVG charts rendered on the server: no chart library, no script needed to see them. Each
 * takes plain data and a size; every mark carries a <title> so a hover says its number.
 */
import type { LeaderboardEntry } from '../api/views.js';
import type { HistogramBin } from '../metrics/summary.js';
import type { TierHistoryRow } from '../store/schema.js';

const fmt = (x: number, digits = 2): string => (Number.isInteger(x) ? String(x) : x.toFixed(digits));

/** The reward distribution: one bar per bin over [-5, +5], red below zero, green above. */
export function RewardHistogram(props: { bins: HistogramBin[]; width?: number; height?: number }) {
  const { bins, width = 520, height = 200 } = props;
  const pad = { l: 32, r: 8, t: 10, b: 28 };
  const max = Math.max(1, ...bins.map((b) => b.count));
  const w = (width - pad.l - pad.r) / bins.length;
  const y = (n: number) => pad.t + (height - pad.t - pad.b) * (1 - n / max);
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Reward distribution histogram">
      <line x1={pad.l} y1={y(0)} x2={width - pad.r} y2={y(0)} class="axis" />
      <text x={pad.l - 6} y={y(max) + 4} class="tick" text-anchor="end">{max}</text>
      <text x={pad.l - 6} y={y(0)} class="tick" text-anchor="end">0</text>
      {bins.map((b, i) => (
        <g>
          <rect x={pad.l + i * w + 2} y={y(b.count)} width={w - 4} height={y(0) - y(b.count)} class={b.to <= 0 ? 'bar neg' : 'bar pos'}>
            <title>{`${fmt(b.from)} to ${fmt(b.to)}: ${b.count}`}</title>
          </rect>
          {b.count > 0 ? <text x={pad.l + i * w + w / 2} y={y(b.count) - 3} class="tick" text-anchor="middle">{b.count}</text> : null}
          <text x={pad.l + i * w} y={height - 10} class="tick" text-anchor="middle">{fmt(b.from, 0)}</text>
        </g>
      ))}
      <text x={width - pad.r} y={height - 10} class="tick" text-anchor="end">+5</text>
    </svg>
  );
}

/** One agent's mean (dot) and interval (whisker) on the reward scale [-5, +5], for a table cell. */
export function IntervalBar(props: { entry: LeaderboardEntry; width?: number }) {
  const { entry: e, width = 160 } = props;
  const h = 16;
  const x = (v: number) => 4 + ((Math.max(-5, Math.min(5, v)) + 5) / 10) * (width - 8);
  const s = e.interval;
  return (
    <svg class="chart interval" viewBox={`0 0 ${width} ${h}`} width={width} height={h} role="img" aria-label={`${e.name} mean and interval`}>
      <line x1={4} y1={h / 2} x2={width - 4} y2={h / 2} class="axis" />
      <line x1={x(0)} y1={1} x2={x(0)} y2={h - 1} class="zero" />
      {s.low !== null && s.high !== null ? <line x1={x(s.low)} y1={h / 2} x2={x(s.high)} y2={h / 2} class="whisker" /> : null}
      {s.mean !== null ? (
        <circle cx={x(s.mean)} cy={h / 2} r={4} class={s.mean < 0 ? 'mean neg' : 'mean'}>
          <title>{`${e.name}: mean ${fmt(s.mean)}${s.low !== null ? ` [${fmt(s.low)}, ${fmt(s.high!)}]` : ''} over ${s.n}`}</title>
        </circle>
      ) : null}
    </svg>
  );
}

const tierLevel: Record<string, number> = { suspended: 0, junior: 1, senior: 2, principal: 3 };

/** Promotions (▲ green) and demotions (▼ red) over time: x is time, y the tier reached. */
export function TierTimeline(props: { changes: TierHistoryRow[]; width?: number; height?: number }) {
  const { changes, width = 520, height = 180 } = props;
  const pad = { l: 70, r: 12, t: 12, b: 24 };
  const times = changes.map((c) => Date.parse(c.created_at));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const x = (t: number) => (t1 === t0 ? (pad.l + width - pad.r) / 2 : pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r));
  const y = (level: number) => pad.t + (3 - level) * ((height - pad.t - pad.b) / 3);
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Promotions and demotions over time">
      {Object.entries(tierLevel).map(([tier, level]) => (
        <g>
          <line x1={pad.l} y1={y(level)} x2={width - pad.r} y2={y(level)} class="grid" />
          <text x={pad.l - 8} y={y(level) + 4} class="tick" text-anchor="end">{tier}</text>
        </g>
      ))}
      {changes.map((c, i) => {
        const up = (tierLevel[c.to_tier] ?? 0) > (tierLevel[c.from_tier] ?? 0);
        const cx = x(times[i]!);
        const cy = y(tierLevel[c.to_tier] ?? 0);
        const d = up ? `M${cx},${cy - 6} L${cx + 6},${cy + 5} L${cx - 6},${cy + 5} Z` : `M${cx},${cy + 6} L${cx + 6},${cy - 5} L${cx - 6},${cy - 5} Z`;
        return (
          <path d={d} class={up ? 'up' : 'down'}>
            <title>{`${c.created_at.slice(0, 16).replace('T', ' ')} ${c.agent_name}: ${c.from_tier} → ${c.to_tier} (${c.reason})`}</title>
          </path>
        );
      })}
      {changes.length > 0 ? (
        <g>
          <text x={pad.l} y={height - 6} class="tick">{changes[0]!.created_at.slice(0, 10)}</text>
          <text x={width - pad.r} y={height - 6} class="tick" text-anchor="end">{changes.at(-1)!.created_at.slice(0, 10)}</text>
        </g>
      ) : null}
    </svg>
  );
}

/** Horizontal bars: one per row, the value's share of the largest. */
export function Bars(props: { rows: { label: string; value: number; text: string }[]; width?: number }) {
  const { rows, width = 520 } = props;
  const row = 24;
  const labelW = 150;
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${Math.max(row, rows.length * row)}`} role="img" aria-label="Bar chart">
      {rows.map((r, i) => {
        const w = ((width - labelW - 190) * r.value) / max;
        return (
          <g>
            <text x={labelW - 8} y={i * row + 16} class="tick" text-anchor="end">{r.label}</text>
            <rect x={labelW} y={i * row + 5} width={Math.max(1, w)} height={14} class="bar pos">
              <title>{`${r.label}: ${r.text}`}</title>
            </rect>
            <text x={labelW + w + 6} y={i * row + 16} class="tick">{r.text}</text>
          </g>
        );
      })}
    </svg>
  );
}

/** One stacked bar per row over 0–100%: each part's share of the row's total, with a legend. */
export function StackedShares(props: { rows: { label: string; parts: { key: string; value: number }[]; text: string }[]; keys: { key: string; label: string }[]; width?: number }) {
  const { rows, keys, width = 520 } = props;
  const row = 26;
  const labelW = 90;
  const barW = width - labelW - 120;
  const legendY = rows.length * row + 14;
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${legendY + 10}`} role="img" aria-label="Stacked shares">
      {rows.map((r, i) => {
        const total = r.parts.reduce((a, p) => a + p.value, 0);
        let x = labelW;
        return (
          <g>
            <text x={labelW - 8} y={i * row + 17} class="tick" text-anchor="end">{r.label}</text>
            {total === 0 ? <rect x={labelW} y={i * row + 6} width={barW} height={14} class="empty" /> : null}
            {r.parts.filter((p) => p.value > 0).map((p) => {
              const w = (barW * p.value) / total;
              const rect = (
                <rect x={x} y={i * row + 6} width={w} height={14} class={`share ${p.key}`}>
                  <title>{`${r.label}: ${p.value} ${keys.find((k) => k.key === p.key)?.label ?? p.key}`}</title>
                </rect>
              );
              x += w;
              return rect;
            })}
            <text x={labelW + barW + 8} y={i * row + 17} class="tick">{r.text}</text>
          </g>
        );
      })}
      {keys.map((k, i) => (
        <g>
          <rect x={labelW + i * 100} y={legendY - 9} width={10} height={10} class={`share ${k.key}`} />
          <text x={labelW + i * 100 + 14} y={legendY} class="tick">{k.label}</text>
        </g>
      ))}
    </svg>
  );
}
