/**
 * Builds the Probot instance for the GitHub App. Octokit's retry and throttling plugins are
 * switched off: every request goes through retryingFetch, so there is one retry policy, in
 * one place, with one set of tests (and no second layer multiplying attempts).
 */
import type { Logger } from 'pino';
import { Probot, ProbotOctokit } from 'probot';
import { retryingFetch, type RetryOptions } from '../http-retry.js';

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

export interface CreateProbotOptions {
  appId: string;
  privateKey: string;
  /** The App's webhook secret (X-Hub-Signature-256). */
  secret: string;
  /** GitHub Enterprise Server API root, e.g. `https://ghe.example.com/api/v3`. */
  baseUrl?: string;
  /** The fetch under retryingFetch; the global one by default. */
  fetch?: typeof fetch;
  retry?: RetryOptions;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** A logger to use instead of Probot's own. */
  log?: Logger;
}

/**
 * Probot passes its own `throttle` options (rate-limit callbacks, without `enabled`) on top
 * of the Octokit class defaults, which would switch throttling back on if we set
 * `{ throttle: { enabled: false } }` as plain defaults. A defaults function runs last and wins.
 */
const QuietOctokit = ProbotOctokit.defaults((options: OctokitOptions) => ({
  ...options,
  retry: { ...options.retry, enabled: false },
  throttle: { ...options.throttle, enabled: false },
})) as typeof ProbotOctokit;

export function createProbot(options: CreateProbotOptions): Probot {
  return new Probot({
    appId: options.appId,
    privateKey: options.privateKey,
    secret: options.secret,
    Octokit: QuietOctokit,
    request: { fetch: retryingFetch(options.fetch ?? fetch, options.retry) },
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
}

/**
 * Checks `X-Hub-Signature-256` against the raw body with the App's secret (constant time,
 * inside @octokit/webhooks). A missing or malformed signature is simply not valid.
 */
export async function verifyGitHubSignature(
  probot: Probot,
  rawBody: string,
  signature: string | undefined,
): Promise<boolean> {
  if (!signature || !rawBody) return false;
  // `probot.webhooks` is null until Probot's asynchronous initialisation has finished.
  await probot.ready();
  try {
    return await probot.webhooks.verify(rawBody, signature);
  } catch {
    return false;
  }
}
