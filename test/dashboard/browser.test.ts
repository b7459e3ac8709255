/**
 * The dashboard in real Chromium (Debian's, driven by playwright-core): seeded through the
 * bot's own paths (a labeled GitLab issue, tasks over the REST API, manual rewards that move
 * tiers, a suspension), the page loads with no console error, shows the data, works with
 * JavaScript off, and picks up a change live with it on. A screenshot goes to test-output/.
 */
import { noEvents } from '../../src/events.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordManualReward } from '../../src/rewards/manual.js';
import { updateTask } from '../../src/store/tasks.js';
import { postGitLab, repoRoot, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';

const CHROMIUM = '/usr/bin/chromium';
const OPERATE = 'operate-token-for-the-browser-test';
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

async function seed(app: TestApp, gitlab: FakeGitLab): Promise<void> {
  const hook = labeledIssue('https://gitlab.example.com/gitlabhq/gitlab-test.git');
  await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(hook));
  await settled(app);
  const types = ['bugfix', 'feature', 'refactor', 'security', 'bugfix', 'feature', 'bugfix', 'refactor'];
  for (const [i, type] of types.entries()) {
    const res = await fetch(`${app.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATE}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        repository: { forge: 'gitlab', full_name: hook.project.path_with_namespace },
        issue: 100 + i,
        task: { type, description: `Seeded ${type} task ${i}`, priority: i % 3 === 0 ? 'P0' : 'P2' },
      }),
    });
    expect(res.status).toBe(201);
  }
  const tasks = await app.store.db.selectFrom('tasks').select(['id', 'assigned_agent', 'issue_url']).orderBy('id').execute();
  // What finished runs leave behind: tokens and cost on the run, a merge request on the task.
  const ends = [
    { status: 'completed', outcome: 'success' },
    { status: 'completed', outcome: 'success' },
    { status: 'failed', outcome: 'failed' },
    { status: 'failed', outcome: 'timeout' },
  ] as const;
  for (const [i, t] of tasks.entries()) {
    await app.store.db
      .updateTable('assignments')
      .set({ input_tokens: 4000 * (i + 1), output_tokens: 900 * (i + 1), cache_tokens: 10_000, cost_usd: 0.12 * (i + 1), ...ends[i % 4]!, finished_at: '2026-01-02T00:00:00.000Z' })
      .where('task_id', '=', t.id)
      .execute();
    await updateTask(app.store.db, t.id, { tokens_used: 4900 * (i + 1) + 10_000, cost_usd: 0.12 * (i + 1) });
    if (i % 2 === 0) await updateTask(app.store.db, t.id, { pr_url: `${t.issue_url.replace(/\/-\/issues\/\d+$/, '')}/-/merge_requests/${i + 1}`, pr_number: i + 1 });
  }
  const high = { test_coverage_delta: 0.6, lint_score: 1, security_scan_score: 1, code_complexity_delta: 0.4, ci_pipeline_status: 1, review_feedback_score: 0.8 };
  const low = { test_coverage_delta: -0.8, lint_score: 0.1, security_scan_score: 0.2, code_complexity_delta: -0.6, ci_pipeline_status: 0, review_feedback_score: -0.9 };
  const mid = { test_coverage_delta: 0.1, lint_score: 0.8, security_scan_score: 1, code_complexity_delta: 0, ci_pipeline_status: 1, review_feedback_score: 0.3 };
  const plan: [number, string, typeof high][] = [
    [0, 'agent-bugfix-junior', high],
    [1, 'agent-bugfix-junior', high],
    [2, 'agent-bugfix-junior', mid],
    [3, 'agent-feature-junior', low],
    [4, 'agent-feature-junior', low],
    [5, 'agent-refactor-junior', mid],
    [6, 'agent-refactor-junior', high],
    [7, 'agent-security-junior', mid],
  ];
  for (const [i, agent, components] of plan) {
    await recordManualReward(app.store.db, app.loaded.config, { taskId: tasks[i]!.id, agent, components, actor: 'test' }, noEvents);
  }
  const suspend = await fetch(`${app.url}/api/v1/agents/agent-security-senior/suspend`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATE}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'seeded suspension' }),
  });
  expect(suspend.status).toBe(200);
}

describe.skipIf(!existsSync(CHROMIUM))('the dashboard in Chromium', () => {
  let app: TestApp;
  let context: BrowserContext;
  let profile: string;
  const out = join(repoRoot, 'test-output');
  onlyLocalNetwork();

  beforeAll(async () => {
    const gitlab = new FakeGitLab().install();
    app = await startTestApp({ env: { DOOM_API_TOKENS: `ops:operate:${OPERATE}` } });
    await seed(app, gitlab);
    profile = mkdtempSync(join(tmpdir(), 'doom-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args, viewport: { width: 1280, height: 900 } });
    mkdirSync(out, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    await app?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    nock.cleanAll();
  });

  it('loads with no console error and shows the seeded data', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('pageerror', (e) => problems.push(e.message));
    const res = await page.goto(app.url, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);

    const board = page.locator('#leaderboard tbody tr');
    expect(await board.count()).toBe(9);
    // The best agent first, with its interval (three rewards).
    await expect.poll(() => board.first().locator('td.agent').textContent()).toBe('agent-bugfix-junior');
    expect(await board.first().textContent()).toMatch(/\[-?\d+\.\d\d, \d+\.\d\d\]/);
    expect(await page.locator('#leaderboard .note').textContent()).toContain('standard errors');
    expect(await page.locator('#tiers').textContent()).toContain('agent-security-senior');
    expect(await page.locator('#tiers .tiercol').nth(3).textContent()).toContain('agent-security-senior');
    expect(await page.locator('#tasks tbody tr').count()).toBe(9);
    expect(await page.locator('#tasks a[href*="/-/merge_requests/"]').count()).toBe(5);
    expect(await page.locator('#rewards svg rect.bar').count()).toBe(10);
    expect(await page.locator('#rewards').textContent()).toContain('8 settled reward(s)');
    expect(await page.locator('#tier-changes svg path.up').count()).toBeGreaterThan(0);
    expect(await page.locator('#tier-changes svg path.down').count()).toBeGreaterThan(0);
    expect(await page.locator('#usage svg').count()).toBe(2);
    // Completion by tier: every run here was a junior's or a principal's, and ended one of three ways.
    const completion = page.locator('#completion');
    expect(await completion.locator('svg rect.share.completed').count()).toBeGreaterThan(0);
    expect(await completion.locator('svg rect.share.failed').count()).toBeGreaterThan(0);
    expect(await completion.locator('svg rect.share.budget').count()).toBeGreaterThan(0);
    expect(await completion.textContent()).toMatch(/\d+% of \d+ run\(s\)/);
    expect(await completion.textContent()).toContain('no runs');
    expect(await page.locator('#usage').textContent()).toContain('security');

    await page.screenshot({ path: join(out, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('is readable with JavaScript off', async () => {
    const noJs = await context.browser()?.newContext({ javaScriptEnabled: false });
    const page = noJs ? await noJs.newPage() : await context.newPage();
    if (!noJs) await page.context().route('**/dashboard.js', (r) => r.abort());
    await page.goto(app.url);
    expect(await page.locator('#leaderboard tbody tr').count()).toBe(9);
    expect(await page.locator('#rewards svg').count()).toBe(1);
    await page.close();
    await noJs?.close();
  });

  it('updates live: a suspension over the API shows without a reload', async () => {
    const page = await context.newPage();
    await page.goto(app.url);
    const suspended = page.locator('#tiers .tiercol').nth(3);
    expect(await suspended.textContent()).not.toContain('agent-principal');
    const res = await fetch(`${app.url}/api/v1/agents/agent-principal/suspend`, { method: 'POST', headers: { authorization: `Bearer ${OPERATE}` } });
    expect(res.status).toBe(200);
    await expect.poll(() => suspended.textContent(), { timeout: 20_000, interval: 250 }).toContain('agent-principal');
    expect(await page.locator('#updated').textContent()).toMatch(/^live · as of /);
    await page.close();
  });
});
