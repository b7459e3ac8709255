/** The one logger. Anything that could carry a secret is redacted before it is written. */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'privateKey',
  'token',
  'secret',
  'password',
  'authorization',
  '*.privateKey',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-gitlab-token"]',
  'req.headers["x-hub-signature-256"]',
  'headers["x-gitlab-token"]',
  'headers["private-token"]',
  'env.PRIVATE_KEY',
  'env.WEBHOOK_SECRET',
  'env.GITLAB_TOKEN',
  'env.GITLAB_WEBHOOK_SECRET',
  'env.DATABASE_URL',
  'env.ANTHROPIC_API_KEY',
  'env.DOOM_API_TOKENS',
  'env.DOOM_METRICS_TOKEN',
  'apiTokens',
  'metricsToken',
  '*.apiTokens',
  '*.metricsToken',
];

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    { level: options.level ?? 'info', redact: { paths: redactPaths, censor: '[redacted]' }, base: { app: 'doom-rlvr' } },
    options.destination as DestinationStream | undefined,
  );
}
