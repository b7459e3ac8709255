/** The dashboard's stylesheet and its one script (progressive: the page works without it). */

export const styles = `
:root { --bg:#0f1419; --card:#171d24; --line:#2a323c; --text:#dfe5ec; --muted:#8b98a5; --pos:#3fb67a; --neg:#e0605a; --accent:#6aa8ff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", Arial, sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:baseline; justify-content:space-between; padding:14px 24px; border-bottom:1px solid var(--line); }
header h1 { margin:0; font-size:20px; letter-spacing:.5px; }
header p { margin:0; color:var(--muted); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
#live { display:grid; grid-template-columns:repeat(2, minmax(0, 1fr)); gap:16px; padding:16px 24px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; min-width:0; }
.card.wide { grid-column:1 / -1; }
.card h2 { margin:0 0 10px; font-size:15px; font-weight:600; }
.card h3 { margin:4px 0 6px; font-size:13px; font-weight:600; color:var(--muted); }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:12px; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
.split { display:grid; grid-template-columns:minmax(0, 1fr) 280px; gap:16px; align-items:start; }
.split.even { grid-template-columns:1fr 1fr; }
.tiers { display:grid; grid-template-columns:repeat(4, 1fr); gap:10px; }
.tiercol ul { list-style:none; margin:0; padding:0; } .tiercol li { padding:2px 0; }
.tier, .status { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; background:#2a323c; }
.tier.principal { background:#5b3fa8; } .tier.senior { background:#2c5e9e; } .tier.junior { background:#2d6b4f; } .tier.suspended { background:#7a2e2b; }
.status.completed { background:#2d6b4f; } .status.failed { background:#7a2e2b; } .status.assigned, .status.in_progress { background:#2c5e9e; } .status.pending { background:#6b5a22; }
.counts .status { margin-right:6px; }
.muted, .note { color:var(--muted); } .note { font-size:12px; margin:8px 0 0; }
.events { margin:6px 0 0; padding-left:18px; color:var(--muted); font-size:12px; }
svg.chart { width:100%; height:auto; display:block; }
svg .axis, svg .grid { stroke:var(--line); } svg .zero { stroke:var(--muted); stroke-dasharray:3 3; }
svg .tick { fill:var(--muted); font-size:11px; }
svg .bar.pos { fill:var(--pos); } svg .bar.neg { fill:var(--neg); }
svg .whisker { stroke:var(--accent); stroke-width:3; stroke-linecap:round; } svg .mean { fill:var(--text); } svg .mean.neg { fill:var(--neg); }
svg.interval { width:160px; height:16px; vertical-align:middle; }
svg .up { fill:var(--pos); } svg .down { fill:var(--neg); }
svg .share.completed { fill:var(--pos); } svg .share.failed { fill:var(--neg); } svg .share.budget { fill:#d9a441; } svg .share.other { fill:var(--muted); } svg .empty { fill:none; stroke:var(--line); stroke-dasharray:3 3; }
@media (max-width: 900px) { #live { grid-template-columns:1fr; } .split, .split.even { grid-template-columns:1fr; } }
`;

/**
 * Polls /dashboard/live and swaps the live part in; pauses while the tab is hidden, and says
 * so in the header when the server cannot be reached (the last data stays on screen).
 */
export const clientScript = `(() => {
  'use strict';
  const every = 5000;
  const updated = document.getElementById('updated');
  async function refresh() {
    if (document.hidden) return;
    try {
      const res = await fetch('/dashboard/live', { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const html = await res.text();
      const next = new DOMParser().parseFromString(html, 'text/html').getElementById('live');
      const live = document.getElementById('live');
      if (next && live) {
        live.replaceWith(next);
        if (updated) updated.textContent = 'live · as of ' + next.dataset.generated.slice(0, 19).replace('T', ' ') + ' UTC';
      }
    } catch (error) {
      if (updated) updated.textContent = 'offline (' + error.message + '), retrying';
    }
  }
  setInterval(refresh, every);
  document.addEventListener('visibilitychange', refresh);
})();
`;
