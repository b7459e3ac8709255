/**
 * Secrets and deployment settings, read only from the environment (Probot's own names where
 * Probot has one). Nothing here is ever written to a file, a log line or an agent's env.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseApiTokens, type ApiToken } from '../api/auth.js';
import { ConfigError, describeIssues } from './errors.js';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const envSchema = z.object({
  APP_ID: optionalString,
  PRIVATE_KEY: optionalString,
  PRIVATE_KEY_PATH: optionalString,
  WEBHOOK_SECRET: optionalString,
  GITHUB_API_URL: optionalString.pipe(z.url().optional()),
  GITLAB_URL: optionalString.pipe(z.url().optional()),
  GITLAB_TOKEN: optionalString,
  GITLAB_WEBHOOK_SECRET: optionalString,
  DATABASE_URL: optionalString,
  PORT: optionalString.pipe(z.string().regex(/^\d+$/, 'expected a port number').transform(Number).pipe(z.number().int().min(0).max(65535)).optional()),
  LOG_LEVEL: optionalString.pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()),
  DOOM_CONFIG: optionalString,
  DOOM_API_TOKENS: optionalString,
  DOOM_METRICS_TOKEN: optionalString,
});

export interface GitHubSecrets {
  appId: string;
  privateKey: string;
  webhookSecret: string;
  apiUrl?: string;
}

export interface GitLabSecrets {
  url: string;
  token: string;
  webhookSecret: string;
}

export interface Environment {
  github: GitHubSecrets | null;
  /** Why GitHub is not configured, for the start-up log. */
  githubMissing: string[];
  gitlab: GitLabSecrets | null;
  gitlabMissing: string[];
  databaseUrl: string;
  port?: number;
  logLevel: string;
  configPath: string;
  /** REST API bearer tokens (DOOM_API_TOKENS); none means the API answers 401. */
  apiTokens: ApiToken[];
  /** When set, `/metrics` wants it as a bearer token (DOOM_METRICS_TOKEN). */
  metricsToken?: string;
}

/** Reads and validates the environment. Partial forge settings are reported, not guessed. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(describeIssues('environment', parsed.error));
  const e = parsed.data;

  let privateKey = e.PRIVATE_KEY?.replace(/\\n/g, '\n');
  if (!privateKey && e.PRIVATE_KEY_PATH) {
    try {
      privateKey = readFileSync(e.PRIVATE_KEY_PATH, 'utf8');
    } catch (error) {
      throw new ConfigError(`environment: PRIVATE_KEY_PATH: cannot read ${e.PRIVATE_KEY_PATH}: ${(error as Error).message}`);
    }
  }
  const apiTokens = parseApiTokens(e.DOOM_API_TOKENS);
  if (!apiTokens.ok) throw new ConfigError(`environment: DOOM_API_TOKENS: ${apiTokens.error}`);
  const githubMissing = [
    e.APP_ID ? null : 'APP_ID',
    privateKey ? null : 'PRIVATE_KEY or PRIVATE_KEY_PATH',
    e.WEBHOOK_SECRET ? null : 'WEBHOOK_SECRET',
  ].filter((x): x is string => x !== null);
  const gitlabMissing = [
    e.GITLAB_URL ? null : 'GITLAB_URL',
    e.GITLAB_TOKEN ? null : 'GITLAB_TOKEN',
    e.GITLAB_WEBHOOK_SECRET ? null : 'GITLAB_WEBHOOK_SECRET',
  ].filter((x): x is string => x !== null);

  return {
    github:
      githubMissing.length === 0
        ? { appId: e.APP_ID!, privateKey: privateKey!, webhookSecret: e.WEBHOOK_SECRET!, apiUrl: e.GITHUB_API_URL }
        : null,
    githubMissing,
    gitlab:
      gitlabMissing.length === 0
        ? { url: e.GITLAB_URL!.replace(/\/+$/, ''), token: e.GITLAB_TOKEN!, webhookSecret: e.GITLAB_WEBHOOK_SECRET! }
        : null,
    gitlabMissing,
    databaseUrl: e.DATABASE_URL ?? './data/doom.db',
    port: e.PORT,
    logLevel: e.LOG_LEVEL ?? 'info',
    configPath: e.DOOM_CONFIG ?? 'config/doom-rlvr.toml',
    apiTokens: apiTokens.tokens,
    metricsToken: e.DOOM_METRICS_TOKEN,
  };
}
