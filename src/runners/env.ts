/**
 * The agent's whole environment. The bot's credentials (forge tokens, App private key,
 * webhook secret, database URL) must never reach an agent: the bot pushes, not the agent.
 * So the environment is built from an allow-list, and a deny-list is applied on top as a
 * second net (to the allow-listed prefixes and to `extra`).
 */

/** Names copied from the bot's environment when present. */
const allowedNames = new Set([
  'PATH',
  'HOME',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TERM',
  'TMPDIR',
  'TZ',
  'USER',
  'LOGNAME',
  'SHELL',
  // Network path and trust store the model API may need behind a corporate proxy.
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  // Claude Code's own switches (telemetry, auto-update, error reporting).
  'DISABLE_TELEMETRY',
  'DISABLE_AUTOUPDATER',
  'DISABLE_ERROR_REPORTING',
]);

/**
 * Prefixes copied from the bot's environment: the model API settings agents need
 * (Claude Code; OpenAI for Codex/Aider/OpenCode; Gemini CLI).
 */
const allowedPrefixes = ['ANTHROPIC_', 'CLAUDE_CODE_', 'OPENAI_', 'GEMINI_'];

/** Model credentials an agent legitimately needs, though they look like secrets. */
const agentCredentials = new Set([
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'OPENAI_API_KEY',
  'GEMINI_API_KEY',
]);

const deniedPatterns: RegExp[] = [
  /^GITHUB_/i,
  /^GITLAB_/i,
  /^GH_/i,
  /^PRIVATE_KEY/i,
  /^APP_ID$/i,
  /^WEBHOOK_SECRET$/i,
  /^DATABASE_URL$/i,
  /^DOOM_/i,
  /_TOKEN$/i,
  /_SECRET$/i,
  /_PASSWORD$/i,
  /_PRIVATE_KEY$/i,
  /_API_KEY$/i,
];

/** Whether a variable name looks like a bot credential that must not reach an agent. */
export const isSecretName = (name: string): boolean =>
  !agentCredentials.has(name) && deniedPatterns.some((re) => re.test(name));

const isAllowedName = (name: string): boolean =>
  allowedNames.has(name) || allowedPrefixes.some((p) => name.startsWith(p));

/**
 * Builds an agent's environment from the bot's (`base`) and run-specific `extra` values
 * (a per-run HOME, the model API URL). Throws when `extra` carries a secret-looking name:
 * that is a bug in the caller, not something to drop quietly.
 */
export const agentEnv = (base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || !isAllowedName(name) || isSecretName(name)) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (isSecretName(name)) throw new Error(`agentEnv: refusing to pass ${name} to an agent (looks like a bot credential)`);
    env[name] = value;
  }
  return env;
};
