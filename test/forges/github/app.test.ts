import { createHmac } from 'node:crypto';
import nock from 'nock';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createProbot, verifyGitHubSignature } from '../../../src/forges/github/app.js';
import { strictForgeMocks } from '../../helpers/network.js';
import { testPrivateKey } from '../../helpers/app.js';

const privateKey = testPrivateKey();
const log = pino({ level: 'silent' });

strictForgeMocks();

describe('verifyGitHubSignature', () => {
  const probot = createProbot({ appId: '1', privateKey, secret: 'It is a secret', log });
  const body = JSON.stringify({ action: 'opened', zen: 'Keep it logically awesome.' });
  const signature = `sha256=${createHmac('sha256', 'It is a secret').update(body).digest('hex')}`;

  it('accepts the HMAC of the raw body made with the App secret', async () => {
    expect(await verifyGitHubSignature(probot, body, signature)).toBe(true);
  });

  it('rejects a wrong, missing or malformed signature, and a changed body', async () => {
    const wrong = `sha256=${createHmac('sha256', 'another secret').update(body).digest('hex')}`;
    expect(await verifyGitHubSignature(probot, body, wrong)).toBe(false);
    expect(await verifyGitHubSignature(probot, body, undefined)).toBe(false);
    expect(await verifyGitHubSignature(probot, body, 'nonsense')).toBe(false);
    expect(await verifyGitHubSignature(probot, `${body} `, signature)).toBe(false);
    expect(await verifyGitHubSignature(probot, '', signature)).toBe(false);
  });
});

describe('createProbot', () => {
  it('talks to GitHub Enterprise Server when given its baseUrl, token request included', async () => {
    const probot = createProbot({ appId: '1', privateKey, secret: 's', baseUrl: 'https://ghe.example.com/api/v3', log });
    nock('https://ghe.example.com')
      .post('/api/v3/app/installations/7/access_tokens')
      .reply(201, { token: 'ghs_ghe', expires_at: new Date(Date.now() + 3_600_000).toISOString() })
      .get('/api/v3/repos/octo/hello')
      .reply(200, { id: 1, full_name: 'octo/hello' });
    const octokit = await probot.auth(7);
    const { data } = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'hello' });
    expect(data.full_name).toBe('octo/hello');
  });

  it('leaves retrying to retryingFetch: with retries 0 a 500 or a 429 is tried exactly once (the 429 as a RateLimitedError)', async () => {
    const sleeps: number[] = [];
    const probot = createProbot({
      appId: '1',
      privateKey,
      secret: 's',
      log,
      retry: { retries: 0, sleep: async (ms) => void sleeps.push(ms) },
    });
    nock('https://api.github.com')
      .post('/app/installations/7/access_tokens')
      .reply(201, { token: 'ghs_x', expires_at: new Date(Date.now() + 3_600_000).toISOString() })
      .get('/repos/octo/hello')
      .reply(500, { message: 'Server Error' })
      .get('/repos/octo/hello/pulls')
      .reply(429, { message: 'API rate limit exceeded' }, { 'retry-after': '1', 'x-ratelimit-remaining': '0' });
    const octokit = await probot.auth(7);
    await expect(octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'hello' })).rejects.toMatchObject({ status: 500 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/pulls', { owner: 'octo', repo: 'hello' })).rejects.toMatchObject({ cause: { name: 'RateLimitedError', status: 429, retryAfterMs: 1000 } });
    expect(sleeps).toEqual([]);
  });
});
