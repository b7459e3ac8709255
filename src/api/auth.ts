/**
 * Bearer tokens for the REST API, from `DOOM_API_TOKENS`: comma-separated `name:role:token`
 * entries, role `read` (every GET) or `operate` (also POST: submit tasks, promote, suspend).
 * The name is who the audit log says acted; the token never leaves this module except to be
 * compared, in time independent of where it differs, against every configured token.
 *
 * ```sh
 * DOOM_API_TOKENS='grafana:read:4f9c…,ops-bot:operate:b21e…'
 * ```
 */
import { secretsEqual } from '../ingress/server.js';

export const apiRoles = ['read', 'operate'] as const;
export type ApiRole = (typeof apiRoles)[number];

export interface ApiToken {
  name: string;
  role: ApiRole;
  token: string;
}

/** Tokens shorter than this are refused: a guessable token is no authentication. */
export const MIN_TOKEN_LENGTH = 16;

export type TokensParse = { ok: true; tokens: ApiToken[] } | { ok: false; error: string };

/** Pure: parses the variable's value; errors name the entry by position, never echo a token. */
export function parseApiTokens(value: string | undefined): TokensParse {
  if (value === undefined || value.trim() === '') return { ok: true, tokens: [] };
  const tokens: ApiToken[] = [];
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const [i, entry] of entries.entries()) {
    const [name, role, ...rest] = entry.split(':');
    const token = rest.join(':');
    const where = `entry ${i + 1}${name ? ` (${name})` : ''}`;
    if (!name || role === undefined || token === '') return { ok: false, error: `${where}: expected name:role:token` };
    if (!/^[\w.@-]+$/.test(name)) return { ok: false, error: `${where}: the name may hold letters, digits, _ . @ - only` };
    if (!(apiRoles as readonly string[]).includes(role)) return { ok: false, error: `${where}: role must be read or operate, not "${role}"` };
    if (token.length < MIN_TOKEN_LENGTH) return { ok: false, error: `${where}: the token must be at least ${MIN_TOKEN_LENGTH} characters` };
    if (tokens.some((t) => t.name === name)) return { ok: false, error: `${where}: the name is used twice` };
    tokens.push({ name, role: role as ApiRole, token });
  }
  return { ok: true, tokens };
}

/** The bearer token of an `Authorization` header, or null when there is none. */
export function bearerOf(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

/**
 * The configured token `given` matches, or null. Every token is compared, so how long this
 * takes does not tell which entry (or which prefix) came close.
 */
export function identify(tokens: readonly ApiToken[], given: string): ApiToken | null {
  let found: ApiToken | null = null;
  for (const t of tokens) if (secretsEqual(given, t.token) && found === null) found = t;
  return found;
}

export const allows = (role: ApiRole, needed: ApiRole): boolean => role === 'operate' || needed === 'read';

export type AuthDecision =
  | { kind: 'allow'; caller: ApiToken }
  | { kind: 'deny'; status: 401 | 403; error: string };

/** Pure: what to answer a request carrying `header` that needs `needed`. */
export function authorize(tokens: readonly ApiToken[], header: string | undefined, needed: ApiRole): AuthDecision {
  if (tokens.length === 0) return { kind: 'deny', status: 401, error: 'the REST API has no tokens configured: set DOOM_API_TOKENS' };
  const given = bearerOf(header);
  if (given === null) return { kind: 'deny', status: 401, error: 'missing bearer token: send Authorization: Bearer <token>' };
  const caller = identify(tokens, given);
  if (!caller) return { kind: 'deny', status: 401, error: 'invalid bearer token' };
  if (!allows(caller.role, needed)) {
    return { kind: 'deny', status: 403, error: `token "${caller.name}" has role ${caller.role}; this needs ${needed}` };
  }
  return { kind: 'allow', caller };
}
