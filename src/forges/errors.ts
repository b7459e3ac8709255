/**
 * Errors the forge layer throws. Both carry enough to act on (which field, which call) and
 * nothing secret: no tokens, no auth headers, no credential-bearing query strings.
 */
import type { z } from 'zod';

/**
 * A delivery of an event we handle whose payload lacks a field we need or has it with the
 * wrong type. The message names the event and the field, e.g.
 * `issues.labeled: issue.number: expected number, received undefined`.
 */
export class PayloadError extends Error {
  constructor(
    /** `event.action` (GitHub) or the GitLab hook name. */
    readonly event: string,
    /** One `field.path: problem` line per problem. */
    readonly problems: string[],
  ) {
    super(problems.map((problem) => `${event}: ${problem}`).join('\n'));
    this.name = 'PayloadError';
  }

  static fromZod(event: string, error: z.ZodError): PayloadError {
    return new PayloadError(
      event,
      error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`),
    );
  }
}

/** `['pull_requests', 0, 'number']` → `pull_requests[0].number`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(payload)';
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** A forge API call that failed. `url` has credentials and secret query parameters removed. */
export class ForgeApiError extends Error {
  readonly url: string;

  constructor(
    /** HTTP status; 0 when the response could not be understood. */
    readonly status: number,
    readonly method: string,
    url: string,
    detail?: string,
  ) {
    const safeUrl = redactUrl(url);
    super(`${method} ${safeUrl} failed with ${status}${detail ? `: ${truncate(detail, 300)}` : ''}`);
    this.name = 'ForgeApiError';
    this.url = safeUrl;
  }
}

/**
 * The forge said "not now": a rate limit (429, GitHub's primary or secondary 403) or a 503
 * with `Retry-After`. The request was not applied, so it may be sent again, after
 * `retryAfterMs`. Thrown instead of waiting when the wait is longer than a forge call may hold
 * its caller (an inbox slot): the inbox puts the delivery back on its schedule for then, and
 * does not count the try as a failure.
 */
export class RateLimitedError extends ForgeApiError {
  constructor(
    status: number,
    method: string,
    url: string,
    /** How long to wait before the next request to this forge with the same credential. */
    readonly retryAfterMs: number,
  ) {
    super(status, method, url, `rate limited: retry in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'RateLimitedError';
  }
}

/** No answer within the per-attempt timeout. A write that timed out may have been applied. */
export class ForgeTimeoutError extends ForgeApiError {
  constructor(
    method: string,
    url: string,
    readonly timeoutMs: number,
  ) {
    super(0, method, url, `no answer within ${timeoutMs} ms`);
    this.name = 'ForgeTimeoutError';
  }
}

/**
 * Whether a failed write may have been performed anyway: a 5xx, a dropped connection or a
 * timeout (the forge may have acted before the answer was lost), or an answer we could not
 * read (status 0). A rate limit and any other 4xx say it was not. After such a failure the
 * caller looks for the result (the comment by its marker, the MR by its branch) before any
 * new write.
 */
export function mayHaveBeenApplied(error: unknown): boolean {
  if (!(error instanceof ForgeApiError) || error instanceof RateLimitedError) return false;
  return error.status === 0 || error.status >= 500;
}

const SECRET_QUERY_KEYS = /token|secret|password|jwt|signature|key/i;

/** Removes `user:password@` and token-like query parameters so a URL can be logged. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\?.*$/, '');
  }
  parsed.username = '';
  parsed.password = '';
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_QUERY_KEYS.test(key)) parsed.searchParams.set(key, 'REDACTED');
  }
  return parsed.toString();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
