/**
 * The dashboard page, rendered on the server with Hono JSX: complete without JavaScript.
 * `Live` is the part that /dashboard/live serves again for the page's polling script, so the
 * live update and the first render are the same code.
 */
import type { Child } from 'hono/jsx';
import { INTERVAL_METHOD } from '../metrics/summary.js';
import { Bars, IntervalBar, RewardHistogram, StackedShares, TierTimeline } from './charts.js';
import type { DashboardData } from './data.js';

const tiers = ['principal', 'senior', 'junior', 'suspended'] as const;
const num = (x: number | null, d = 2): string => (x === null ? '–' : x.toFixed(d));
const pct = (x: number | null): string => (x === null ? '–' : `${Math.round(x * 100)}%`);
const tokens = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

function Card(props: { title: string; id: string; wide?: boolean; children: Child }) {
  return (
    <section class={props.wide ? 'card wide' : 'card'} id={props.id} aria-labelledby={`${props.id}-h`}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      {props.children}
    </section>
  );
}

function Leaderboard({ data }: { data: DashboardData }) {
  return (
    <Card title="Leaderboard" id="leaderboard" wide>
      <table>
          <thead>
            <tr><th>#</th><th>agent</th><th>tier</th><th class="n">rolling avg</th><th class="n">mean ± s.e.</th><th class="n">interval</th><th>−5 · 0 · +5</th><th class="n">tasks</th><th class="n">success</th></tr>
          </thead>
          <tbody>
            {data.leaderboard.map((e) => (
              <tr>
                <td>{e.rank}</td>
                <td class="agent">{e.name}</td>
                <td><span class={`tier ${e.tier}`}>{e.tier}</span></td>
                <td class="n">{num(e.rolling_avg)}</td>
                <td class="n">{e.interval.mean === null ? '–' : `${num(e.interval.mean)} ± ${num(e.interval.stderr)}`}</td>
                <td class="n">{e.interval.low === null ? `n=${e.interval.n}` : `[${num(e.interval.low)}, ${num(e.interval.high)}]`}</td>
                <td><IntervalBar entry={e} /></td>
                <td class="n">{e.total_tasks}</td>
                <td class="n">{pct(e.success_rate)}</td>
              </tr>
            ))}
          </tbody>
      </table>
      <p class="note">Interval: {INTERVAL_METHOD}. It is computed here from each agent's settled rewards and needs two; the router and the tiers read their own bounds, with failed runs counted (doom agents list shows them).</p>
    </Card>
  );
}

function ByTier({ data }: { data: DashboardData }) {
  return (
    <Card title="Agents by tier" id="tiers">
      <div class="tiers">
        {tiers.map((t) => {
          const agents = data.leaderboard.filter((e) => e.tier === t);
          return (
            <div class="tiercol">
              <h3><span class={`tier ${t}`}>{t}</span> <small>{agents.length}</small></h3>
              <ul>{agents.length === 0 ? <li class="muted">none</li> : agents.map((a) => <li>{a.name}</li>)}</ul>
            </div>
          );
        })}
      </div>
    </Card>
  );
}

function RecentTasks({ data }: { data: DashboardData }) {
  const counts = Object.entries(data.taskCounts);
  return (
    <Card title="Recent tasks" id="tasks" wide>
      <p class="counts">{counts.length === 0 ? 'no tasks yet' : counts.map(([s, n]) => <span class={`status ${s}`}>{`${s} ${n}`}</span>)}</p>
      <table>
        <thead><tr><th>task</th><th>issue</th><th>type</th><th>status</th><th>agent</th><th>merge request</th><th class="n">tokens</th><th class="n">cost</th></tr></thead>
        <tbody>
          {data.tasks.map((t) => (
            <tr>
              <td>{t.id}</td>
              <td><a href={t.issue_url} rel="noreferrer">{`${t.repo}#${t.issue_number}`}</a></td>
              <td>{t.type}</td>
              <td><span class={`status ${t.status}`}>{t.status}</span></td>
              <td>{t.assigned_agent ?? '–'}</td>
              <td>{t.pr_url ? <a href={t.pr_url} rel="noreferrer">{`${t.forge === 'github' ? '#' : '!'}${t.pr_number ?? ''}`}</a> : '–'}</td>
              <td class="n">{tokens(t.tokens_used)}</td>
              <td class="n">{`$${t.cost_usd.toFixed(2)}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Distribution({ data }: { data: DashboardData }) {
  return (
    <Card title="Reward distribution" id="rewards">
      <p class="muted">{`${data.rewardCount} settled reward(s), bins of 1 over [-5, +5]`}</p>
      <RewardHistogram bins={data.rewardBins} />
    </Card>
  );
}

function Completion({ data }: { data: DashboardData }) {
  const keys = [
    { key: 'completed', label: 'completed' },
    { key: 'failed', label: 'failed' },
    { key: 'budget', label: 'timeout / tokens' },
    { key: 'other', label: 'cancelled' },
  ];
  const rows = data.completion.map((c) => ({
    label: c.tier,
    parts: keys.map((k) => ({ key: k.key, value: c[k.key as 'completed' | 'failed' | 'budget' | 'other'] })),
    text: c.rate === null ? 'no runs' : `${pct(c.rate)} of ${c.runs} run(s)`,
  }));
  return (
    <Card title="Task completion by tier" id="completion">
      <StackedShares rows={rows} keys={keys} />
      <p class="note">Runs that ended, by the tier their agent held when the run started; "cancelled" includes runs interrupted by a restart.</p>
    </Card>
  );
}

function TierChanges({ data }: { data: DashboardData }) {
  return (
    <Card title="Promotions and demotions" id="tier-changes">
      {data.tierChanges.length === 0 ? <p class="muted">no tier changes yet</p> : <TierTimeline changes={data.tierChanges} width={520} height={200} />}
      <ul class="events">
        {data.tierChanges.slice(-6).reverse().map((c) => (
          <li>{`${c.created_at.slice(0, 16).replace('T', ' ')} · ${c.agent_name}: ${c.from_tier} → ${c.to_tier} (${c.source})`}</li>
        ))}
      </ul>
    </Card>
  );
}

function Usage({ data }: { data: DashboardData }) {
  const rows = (list: DashboardData['usageByAgent']) =>
    list.map((u) => ({ label: u.key, value: u.tokens, text: `${tokens(u.tokens)} tok · $${u.cost_usd.toFixed(2)} · ${u.runs} run(s)` }));
  return (
    <Card title="Token use and cost" id="usage" wide>
      <div class="split even">
        <div><h3>by agent</h3>{data.usageByAgent.length === 0 ? <p class="muted">no runs yet</p> : <Bars rows={rows(data.usageByAgent)} />}</div>
        <div><h3>by task type</h3>{data.usageByType.length === 0 ? <p class="muted">no runs yet</p> : <Bars rows={rows(data.usageByType)} />}</div>
      </div>
    </Card>
  );
}

export function Live({ data }: { data: DashboardData }) {
  return (
    <div id="live" data-generated={data.generatedAt}>
      <Leaderboard data={data} />
      <ByTier data={data} />
      <Completion data={data} />
      <Distribution data={data} />
      <TierChanges data={data} />
      <RecentTasks data={data} />
      <Usage data={data} />
    </div>
  );
}

export function Page({ data, css }: { data: DashboardData; css: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>doom-rlvr</title>
        <link rel="icon" href="data:," />
        <style>{css}</style>
        <noscript><meta http-equiv="refresh" content="60" /></noscript>
      </head>
      <body>
        <header>
          <h1>doom-rlvr</h1>
          <p>
            <span id="updated">{`as of ${data.generatedAt.slice(0, 19).replace('T', ' ')} UTC`}</span> ·{' '}
            <a href="/api/v1/openapi.json">API</a> · <a href="/metrics">metrics</a>
          </p>
        </header>
        <main>
          <Live data={data} />
        </main>
        <script src="/dashboard.js" defer></script>
      </body>
    </html>
  );
}
