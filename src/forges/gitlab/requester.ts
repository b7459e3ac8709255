/**
 * gitbeaker's `requesterFn` over the project's one retry policy.
 *
 * gitbeaker builds every request (endpoint, query, JSON body, the `PRIVATE-TOKEN` header)
 * through `createRequesterFn` and its default options handler; this module only sends it.
 * What gitbeaker's own handler (in @gitbeaker/rest) would add is left out on purpose:
 * - its retry loop (429/502, ten attempts) and its per-endpoint rate limiters: the `fetch`
 *   given here is `retryingFetch`, which decides alone when a request may be sent again
 *   (never a write answered 500) and how long a rate limit is waited out;
 * - its parsing by content type: answers are JSON unless a stream was asked for, and the
 *   forge validates them with zod (schema.ts);
 * - its errors: a failure is a ForgeApiError naming the API URL, with the token scrubbed.
 *
 * Redirects are followed by hand: fetch would carry the PRIVATE-TOKEN header (not an
 * Authorization header, so not dropped) to whatever host GitLab redirects to, e.g. the
 * object storage of job artifacts. The token goes to the GitLab origin only.
 */
import {
  createRequesterFn,
  type FormattedResponse,
  type RequestOptions,
  type RequesterType,
  type ResourceOptions,
} from '@gitbeaker/requester-utils';
import { ForgeApiError } from '../errors.js';

export interface RetryingRequesterOptions {
  /** The fetch to send with: `retryingFetch(...)`. */
  fetch: typeof fetch;
  /** Removes secrets from a text that goes into an error message. */
  scrub: (text: string) => string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export function retryingRequesterFn(options: RetryingRequesterOptions): (resourceOptions: ResourceOptions) => RequesterType {
  return createRequesterFn(
    (_resource, requestOptions) => Promise.resolve(requestOptions),
    (endpoint, requestOptions) => send(endpoint, (requestOptions ?? {}) as RequestOptions, options),
  );
}

async function send(endpoint: string, request: RequestOptions, options: RetryingRequesterOptions): Promise<FormattedResponse> {
  const method = request.method ?? 'GET';
  const base = request.prefixUrl ?? '';
  const apiUrl = new URL(endpoint, base.endsWith('/') ? base : `${base}/`);
  apiUrl.search = request.searchParams ?? '';
  const response = await follow(apiUrl, method, request, options);
  const headers = Object.fromEntries(response.headers.entries());

  if (!response.ok) {
    const text = await readText(response, apiUrl, method, options);
    throw new ForgeApiError(response.status, method, apiUrl.toString(), options.scrub(errorDetail(text)));
  }
  if (request.asStream) return { body: response.body, headers, status: response.status };

  const text = await readText(response, apiUrl, method, options);
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    throw new ForgeApiError(response.status, method, apiUrl.toString(), 'response is not JSON');
  }
  return { body: body as FormattedResponse['body'], headers, status: response.status };
}

/** Sends the request, following GET redirects with the token kept to the API's origin. */
async function follow(apiUrl: URL, method: string, request: RequestOptions, options: RetryingRequesterOptions): Promise<Response> {
  let url = apiUrl;
  for (let hops = 0; ; hops++) {
    const headers: Record<string, string> = { accept: request.asStream ? '*/*' : 'application/json' };
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (url.origin === apiUrl.origin || !isCredential(name)) headers[name] = value;
    }
    const init: RequestInit = { method, headers, redirect: 'manual' };
    if (request.body !== undefined) init.body = request.body;
    if (request.signal) init.signal = request.signal;
    const response = await exchange(() => options.fetch(url, init), apiUrl, method, options);

    if (!REDIRECT_STATUSES.has(response.status) || method !== 'GET') return response;
    await response.body?.cancel().catch(() => undefined);
    const location = response.headers.get('location');
    const next = location ? safeUrl(location, url) : null;
    if (!next || hops >= MAX_REDIRECTS) {
      throw new ForgeApiError(response.status, method, apiUrl.toString(), next ? 'too many redirects' : 'redirect without a usable location');
    }
    url = next;
  }
}

function isCredential(header: string): boolean {
  return ['private-token', 'authorization', 'job-token', 'sudo'].includes(header.toLowerCase());
}

/**
 * No answer, or one cut off, becomes a ForgeApiError with status 0 (the forge may have acted
 * on it); what retryingFetch throws (a rate limit, a timeout) passes as it is.
 */
async function exchange<T>(step: () => Promise<T>, apiUrl: URL, method: string, options: RetryingRequesterOptions): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof ForgeApiError) throw error;
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    throw Object.assign(new ForgeApiError(0, method, apiUrl.toString(), `no complete answer: ${options.scrub(reason)}`), { cause: error });
  }
}

function readText(response: Response, apiUrl: URL, method: string, options: RetryingRequesterOptions): Promise<string> {
  return exchange(() => response.text(), apiUrl, method, options);
}

function safeUrl(location: string, base: URL): URL | null {
  try {
    const next = new URL(location, base);
    return next.protocol === 'https:' || next.protocol === 'http:' ? next : null;
  } catch {
    return null;
  }
}

/** GitLab errors are `{ message }` (string, array or field map) or `{ error }`. */
function errorDetail(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null) {
      const value = 'message' in body ? body.message : 'error' in body ? body.error : body;
      return typeof value === 'string' ? value : JSON.stringify(value);
    }
  } catch {
    // not JSON: use the text as is
  }
  return text;
}
