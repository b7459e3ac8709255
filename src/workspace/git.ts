/**
 * The one way the bot runs git: `execFile` (no shell), a clean environment, and a credential
 * handed to git for a single command through the environment, never through argv (world
 * readable in /proc/<pid>/cmdline), a URL, or any config file.
 */
import { execFile } from 'node:child_process';
import { devNull } from 'node:os';

export interface GitCredential {
  username: string;
  password: string;
}

export interface GitOptions {
  cwd?: string;
  /** Sent as `Authorization: Basic …` on every HTTP request of this one command. */
  credential?: GitCredential;
  /** Added after the clean base environment (e.g. GIT_DIR, GIT_AUTHOR_NAME). */
  env?: Record<string, string>;
  /** Extra `-c key=value` settings, passed through the environment like the credential. */
  config?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Settings every bot git command runs with. Passed as command-line config (GIT_CONFIG_COUNT),
 * which beats any repository config, so a repository the agent touched cannot make the bot
 * run its code:
 * - no hooks (an agent could plant `pre-push` and read the credential from our environment);
 * - no fsmonitor command, no GPG program, no credential helpers;
 * - no machine-wide ignore or attributes files, so `git add -A` means the same everywhere;
 * - `user.useConfigOnly`: a commit without the bot's explicit identity fails instead of
 *   guessing one from the machine.
 */
const BASE_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['core.hooksPath', devNull],
  ['core.fsmonitor', 'false'],
  ['core.excludesFile', devNull],
  ['core.attributesFile', devNull],
  ['commit.gpgSign', 'false'],
  ['tag.gpgSign', 'false'],
  ['credential.helper', ''],
  ['user.useConfigOnly', 'true'],
  ['gc.autoDetach', 'false'],
];

/** A failed git command. The message and fields never carry the credential. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

const basicHeader = (c: GitCredential): string =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

/** Replaces the credential (raw, base64, URL-encoded) and any `scheme://user:pass@` userinfo. */
export function redact(text: string, credential?: GitCredential): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
  if (credential && credential.password.length > 0) {
    const secrets = [
      basicHeader(credential).slice('Basic '.length),
      `${credential.username}:${credential.password}`,
      encodeURIComponent(credential.password),
      credential.password,
    ];
    for (const s of secrets) out = out.split(s).join('***');
  }
  return out;
}

/** Refuses URLs with userinfo: a credential in a URL ends up in config files, argv and logs. */
export function assertNoCredentialInUrl(url: string): void {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return; // a local path or scp-like ssh address
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`invalid git URL ${redact(url)}`);
  }
  if (parsed.username || parsed.password) {
    throw new Error(`git URL ${redact(url)} carries a credential; pass it as the credential option instead`);
  }
}

/**
 * What git may see of the bot's environment: where programs and the home are, the locale and
 * time zone, and the network path (proxies, trust store). Nothing else: git's children (ssh,
 * remote helpers) and anything that reads their /proc/<pid>/environ must not find the
 * bot's forge tokens, App key, webhook secrets or database URL there. Inherited GIT_*
 * variables are dropped too (a bot run from inside a git hook would otherwise inherit
 * GIT_DIR/GIT_INDEX_FILE and act on the wrong repository).
 */
const gitAllowedNames = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'TZ',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/**
 * The environment for git: the allow-listed part of the parent's, with system and global
 * config switched off, plus the command's own settings and credential. HOME is kept: with
 * GIT_CONFIG_GLOBAL pointing at /dev/null and the ignore/attributes files overridden, git
 * reads nothing from it, and other tools git may start still find what they expect.
 */
export function gitEnv(options: Pick<GitOptions, 'credential' | 'env' | 'config'> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of gitAllowedNames) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const config: Array<readonly [string, string]> = [...BASE_CONFIG];
  for (const [k, v] of Object.entries(options.config ?? {})) config.push([k, v]);
  if (options.credential) config.push(['http.extraHeader', `Authorization: ${basicHeader(options.credential)}`]);
  Object.assign(env, {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_TERMINAL_PROMPT: '0',
    // Empty, not unset: git then asks no askpass program (nor SSH_ASKPASS) either.
    GIT_ASKPASS: '',
    LC_ALL: 'C',
    LANGUAGE: 'C',
  });
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  Object.assign(env, options.env ?? {});
  return env;
}

/** Runs `git <args>` and resolves to its stdout without trailing whitespace. */
export function git(args: string[], options: GitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd: options.cwd,
        env: gitEnv(options),
        signal: options.signal,
        timeout: options.timeoutMs ?? 0,
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout.trimEnd());
          return;
        }
        const cred = options.credential;
        const shownArgs = args.map((a) => redact(a, cred));
        const shownErr = redact(String(stderr ?? ''), cred).trim();
        const code = typeof error.code === 'number' ? error.code : null;
        const why = options.signal?.aborted
          ? 'was aborted'
          : error.killed
            ? `was killed (${error.signal ?? 'timeout'})`
            : code !== null
              ? `failed (exit ${code})`
              : `could not run (${redact(String(error.code ?? error.message), cred)})`;
        const tail = shownErr.length > 4000 ? `…${shownErr.slice(-4000)}` : shownErr;
        reject(new GitError(`git ${shownArgs.join(' ')} ${why}${tail ? `: ${tail}` : ''}`, shownArgs, shownErr, code));
      },
    );
  });
}
