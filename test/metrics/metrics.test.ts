import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { postGitLab, settled, startTestApp, type TestApp } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';

describe('GET /metrics', () => {
  let app: TestApp;
  onlyLocalNetwork();
  afterEach(async () => {
    await app.close();
    nock.cleanAll();
  });

  it('reports tasks, the queue, the inbox and agents from the store', async () => {
    const gitlab = new FakeGitLab().install();
    app = await startTestApp();
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue('https://gitlab.example.com/gitlabhq/gitlab-test.git')));
    await settled(app);
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('doom_tasks{status="assigned"} 1');
    expect(text).toContain('doom_coordinator_queue_length 0');
    expect(text).toContain('doom_inbox_deliveries{status="done"} 1');
    expect(text).toContain('doom_agent_tier{agent="agent-principal",tier="principal"} 1');
    expect(text).toContain('doom_agent_reward{agent="agent-bugfix-junior",component="total"} 0');
    expect(text).toContain('doom_evaluator_errors 0');
  });

  it('wants the bearer token when DOOM_METRICS_TOKEN is set', async () => {
    app = await startTestApp({ env: { DOOM_METRICS_TOKEN: 'metrics-token-for-tests' } });
    expect((await fetch(`${app.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-for-tests' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('doom_coordinator_queue_length 0');
  });
});
