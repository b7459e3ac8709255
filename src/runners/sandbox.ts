/**
 * The sandbox every agent runs in unless its file says `permissions.sandbox: none`:
 * bubblewrap for the file system and processes, plus a per-run egress proxy (egress-proxy.ts)
 * as the only way out of an unshared network namespace.
 *
 * Why bubblewrap driven from here, not Anthropic's `@anthropic-ai/sandbox-runtime` (measured
 * with 0.0.83 on this Debian 12 machine, bwrap 0.8):
 * - its `SandboxManager` is one process-wide configuration (`initialize` once), while the bot
 *   runs agents concurrently, each with its own allow-list; its per-command lists are
 *   documented as "attribution, not a boundary between concurrent commands";
 * - its Linux wrap always sets `NO_PROXY=localhost,127.0.0.1,…,10.0.0.0/8,…` inside an
 *   unshared network namespace, so a model API on loopback or a private address (a company
 *   gateway; the tests' fake Messages API) is dialled directly and never reached: an
 *   allow-listed `127.0.0.1` server was refused by `curl` inside it;
 * - reads are allowed everywhere unless denied (we want the reverse: only the toolchain), it
 *   passes the caller's whole environment in, and it returns a shell string to run with
 *   `bash -c`, where we keep argv away from any shell;
 * - it declares `node >=22.12`; the bot supports Node 20.
 * What it would have given us (a seccomp filter on unix sockets) is covered here by mounting
 * no host socket at all: `/run`, `/var` and `/tmp` are not the host's.
 *
 * Inside the sandbox:
 * - file system: an empty root; the toolchain (`/usr`, `/bin`, `/sbin`, `/lib*`, `/etc`, the
 *   bot's Node and the runner's own binary) read-only; the worktree read-write; fresh tmpfs
 *   on `/tmp`, `/run` and HOME; nothing else of the host (not the bot's HOME, store, mirrors,
 *   config or other worktrees); `hidden` and `forbidden_paths` masked where they fall inside
 *   a mounted tree;
 * - processes: new PID, IPC, UTS, cgroup, user and network namespaces (`--unshare-all`): a
 *   fresh `/proc` shows the agent's processes only; `--die-with-parent` ends them with the run;
 * - network: loopback only, where a socat bridge listens on 127.0.0.1:3128 and forwards to
 *   the run's proxy socket; the proxy allows the model API host (ANTHROPIC_BASE_URL, else
 *   api.anthropic.com) and `permissions.network.allow`, nothing else;
 * - environment: exactly the agent's allow-listed environment (env.ts) plus the proxy
 *   variables; NO_PROXY is removed so every client goes through the proxy.
 *
 * Not isolated: CPU, memory, disk (the Kubernetes executor's job); what an allowed host does
 * with what the agent sends it; git metadata (the worktree's `.git` points into the hidden
 * mirror, so git commands inside fail: the bot commits after the agent exits).
 *
 * If the sandbox cannot start, `openSandbox` throws a `SandboxUnavailableError` whose
 * message names the fix; nothing ever falls back to running unsandboxed.
 *
 * ```ts
 * const box = await openSandbox(['claude', '-p'], { sandbox: 'bwrap', workdir, env, forbiddenPaths: [] });
 * try {
 *   await runProcess({ argv: box.argv, env: box.env, cwd: workdir, signal }).done;
 * } finally {
 *   await box.close();
 * }
 * ```
 */
import { execFile } from 'node:child_process';
import { constants, readFileSync, realpathSync } from 'node:fs';
import { access, lstat, mkdtemp, readlink, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { PermissionsConfig } from './config.js';
import { parseAllowList, startEgressProxy, type AllowedHost } from './egress-proxy.js';

export type PathKind = 'dir' | 'file' | 'missing';

/** A toolchain entry: a directory bound read-only, or a symlink recreated as one (`/bin` → `usr/bin`). */
export type ReadOnlyRoot = { path: string; kind: 'dir' | 'file' } | { path: string; kind: 'symlink'; target: string };

export interface BwrapSpec {
  workdir: string;
  /** HOME inside the sandbox: a fresh tmpfs is mounted there. */
  home?: string;
  /** Extra read-write binds (absolute paths). */
  writable?: string[];
  /** The toolchain, read-only. */
  readOnly: ReadOnlyRoot[];
  /** Absolute paths to hide, with what they are on the host. */
  masked: { path: string; kind: PathKind }[];
  /** Host directory holding the egress proxy's socket `proxy.sock`. */
  egressDir: string;
  /** bwrap binary; `bwrap` on PATH by default. */
  binary?: string;
  /** socat binary inside the sandbox (from the read-only toolchain); `socat` by default. */
  socat?: string;
}

/** Where the proxy socket appears inside, and where the bridge listens. */
export const egressInside = { dir: '/run/doom-egress', port: 3128 } as const;

/** Top-level toolchain trees bound read-only when they exist. */
export const toolchainRoots = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

/** Files under `/etc` a process needs for TLS and user lookups; re-bound when `/etc` is hidden. */
export const essentialPaths = [
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/pki',
  '/etc/passwd',
  '/etc/group',
  '/etc/localtime',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
];

const under = (child: string, parent: string): boolean =>
  parent === '/' ? child.startsWith('/') : child === parent || child.startsWith(`${parent}/`);

/**
 * The script run as the sandbox's first process: start the bridge from loopback to the proxy
 * socket, wait until it accepts, then become the agent (`exec "$@"`: argv is never parsed
 * by the shell).
 */
export const bridgeScript = (socat: string): string => {
  const listen = `TCP-LISTEN:${egressInside.port},bind=127.0.0.1,fork,reuseaddr`;
  const target = `UNIX-CONNECT:${egressInside.dir}/proxy.sock`;
  return [
    `${socat} ${listen} ${target} 2>/dev/null &`,
    'i=0',
    `until ${socat} -u OPEN:/dev/null TCP:127.0.0.1:${egressInside.port} 2>/dev/null; do`,
    '  i=$((i+1))',
    `  if [ "$i" -gt 200 ]; then echo 'doom sandbox: the network bridge (socat) did not start' >&2; exit 125; fi`,
    '  sleep 0.05',
    'done',
    'exec "$@"',
  ].join('\n');
};

/** Pure: the bwrap argv that runs `argv` inside the sandbox described by `spec`. */
export const bwrapArgv = (argv: string[], spec: BwrapSpec): string[] => {
  const out = [spec.binary ?? 'bwrap', '--die-with-parent', '--new-session', '--unshare-all'];
  const mounted: string[] = [];
  for (const r of spec.readOnly) {
    if (r.kind === 'symlink') out.push('--symlink', r.target, r.path);
    else {
      out.push('--ro-bind', r.path, r.path);
      mounted.push(r.path);
    }
  }
  out.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/run');
  out.push('--ro-bind', spec.egressDir, egressInside.dir);
  if (spec.home) out.push('--tmpfs', spec.home);
  for (const w of spec.writable ?? []) {
    out.push('--bind', w, w);
    mounted.push(w);
  }
  out.push('--bind', spec.workdir, spec.workdir);
  mounted.push(spec.workdir);
  // Masks last, so no later bind uncovers them; only where a mounted tree would show them.
  const masked: string[] = [];
  for (const m of spec.masked) {
    if (m.kind === 'missing' || m.path === '/' || !mounted.some((root) => under(m.path, root))) continue;
    if (m.kind === 'dir') out.push('--tmpfs', m.path);
    else out.push('--ro-bind', '/dev/null', m.path);
    masked.push(m.path);
  }
  for (const e of essentialPaths) {
    if (masked.some((m) => under(e, m) && e !== m)) out.push('--ro-bind-try', e, e);
  }
  const socat = spec.socat ?? 'socat';
  out.push('--chdir', spec.workdir, '--', '/bin/sh', '-c', bridgeScript(socat), 'doom-sandbox', ...argv);
  return out;
};

/**
 * Absolute forms of a forbidden path: `~/x` under each home (the bot's own home and the
 * agent's HOME, which may differ), relative ones under the workdir.
 */
export const absoluteForbidden = (p: string, workdir: string, homes: string[]): string[] => {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, '') : p;
  if (trimmed === '~' || trimmed.startsWith('~/')) {
    return [...new Set(homes.map((h) => join(h, trimmed.slice(1))))];
  }
  return [isAbsolute(trimmed) ? trimmed : resolve(workdir, trimmed)];
};

const kindOf = async (p: string): Promise<PathKind> => {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
};

/** Resolves paths to hide against the host file system, for `bwrapArgv`. */
export const resolveForbidden = async (
  paths: string[],
  workdir: string,
  homes: string[],
): Promise<{ path: string; kind: PathKind }[]> =>
  Promise.all(
    paths.flatMap((p) => absoluteForbidden(p, workdir, homes)).map(async (path) => ({ path, kind: await kindOf(path) })),
  );

/** The toolchain as it is on this host: existing roots, symlinked ones as symlinks. */
export const resolveReadOnly = async (paths: string[]): Promise<ReadOnlyRoot[]> => {
  const out: ReadOnlyRoot[] = [];
  for (const path of [...new Set(paths)]) {
    try {
      const st = await lstat(path);
      if (st.isSymbolicLink() && toolchainRoots.includes(path)) out.push({ path, kind: 'symlink', target: await readlink(path) });
      else out.push({ path, kind: (await stat(path)).isDirectory() ? 'dir' : 'file' });
    } catch {
      // Not on this host (`/lib32`, `/libx32`): nothing to bind.
    }
  }
  // A root under another one (a binary's directory under /usr) is already there.
  return out.filter((r) => !out.some((o) => o !== r && o.kind === 'dir' && r.path !== o.path && under(r.path, o.path)));
};

/** The Node installation the bot runs on (`/usr` for a distribution's Node, else its prefix). */
export const nodePrefix = (): string => dirname(dirname(realpathSync(process.execPath)));

/** The model API's host and port, from ANTHROPIC_BASE_URL or Anthropic's default. */
export const modelHost = (env: Record<string, string | undefined>): AllowedHost => {
  const raw = env.ANTHROPIC_BASE_URL?.trim() || 'https://api.anthropic.com';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SandboxUnavailableError(`ANTHROPIC_BASE_URL is not a URL: ${JSON.stringify(raw)}`, 'set ANTHROPIC_BASE_URL to the model API URL, or unset it');
  }
  const port = Number(url.port || (url.protocol === 'http:' ? 80 : 443));
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase(), port };
};

/** Why the sandbox cannot run, and what an operator does about it. */
export class SandboxUnavailableError extends Error {
  override readonly name = 'SandboxUnavailableError';
  constructor(
    problem: string,
    readonly fix: string,
  ) {
    super(`the agent sandbox cannot start: ${problem}; fix: ${fix}`);
  }
}

export interface ProbeFacts {
  bwrap: { binary: string; error?: { code?: string; stderr: string } };
  socat: { binary: string; error?: { code?: string; stderr: string } };
  /** `/proc/sys` values that switch user namespaces off, where present. */
  sysctl: { unprivilegedUsernsClone?: string; maxUserNamespaces?: string; apparmorRestrictUserns?: string };
}

const install = 'apt-get install bubblewrap socat (Debian/Ubuntu; dnf install bubblewrap socat on Fedora)';

/** Pure: what a failed probe means. Undefined when both tools work. */
export const diagnoseSandbox = (f: ProbeFacts): SandboxUnavailableError | undefined => {
  if (f.bwrap.error?.code === 'ENOENT') return new SandboxUnavailableError(`bubblewrap (${f.bwrap.binary}) is not installed`, install);
  if (f.socat.error?.code === 'ENOENT') return new SandboxUnavailableError(`socat (${f.socat.binary}) is not installed`, install);
  if (f.bwrap.error) {
    const why = f.bwrap.error.stderr.trim().split('\n')[0] || 'bwrap failed';
    if (f.sysctl.unprivilegedUsernsClone === '0') {
      return new SandboxUnavailableError(`user namespaces are off (${why})`, 'sysctl -w kernel.unprivileged_userns_clone=1');
    }
    if (f.sysctl.maxUserNamespaces === '0') {
      return new SandboxUnavailableError(`user namespaces are off (${why})`, 'sysctl -w user.max_user_namespaces=15000');
    }
    if (f.sysctl.apparmorRestrictUserns === '1') {
      return new SandboxUnavailableError(
        `AppArmor restricts user namespaces (${why})`,
        'sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing userns for bwrap',
      );
    }
    return new SandboxUnavailableError(
      `bwrap could not create its namespaces (${why})`,
      'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces>0); in a container, run it with a seccomp profile that permits unshare, or set the agent\'s permissions.sandbox: none knowingly',
    );
  }
  if (f.socat.error) return new SandboxUnavailableError(`socat (${f.socat.binary}) does not run: ${f.socat.error.stderr.trim()}`, install);
  return undefined;
};

const run = (file: string, args: string[]): Promise<{ code?: string; stderr: string } | undefined> =>
  new Promise((done) => {
    execFile(file, args, { timeout: 10_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, _out, stderr) => {
      if (!err) done(undefined);
      else done({ code: typeof err.code === 'string' ? err.code : undefined, stderr: String(stderr || err.message) });
    });
  });

const sysctl = (name: string): string | undefined => {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
};

export interface SandboxBinaries {
  bwrap?: string;
  socat?: string;
}

const probes = new Map<string, Promise<SandboxUnavailableError | undefined>>();

/** Checks, once per pair of binaries, that bwrap can make its namespaces and socat runs. */
export const checkSandbox = (bin: SandboxBinaries = {}): Promise<SandboxUnavailableError | undefined> => {
  const bwrap = bin.bwrap ?? 'bwrap';
  const socat = bin.socat ?? 'socat';
  const key = `${bwrap}\0${socat}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const [bwrapError, socatError] = await Promise.all([
        run(bwrap, ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true']),
        run(socat, ['-V']),
      ]);
      return diagnoseSandbox({
        bwrap: { binary: bwrap, error: bwrapError },
        socat: { binary: socat, error: socatError },
        sysctl: {
          unprivilegedUsernsClone: sysctl('kernel/unprivileged_userns_clone'),
          maxUserNamespaces: sysctl('user/max_user_namespaces'),
          apparmorRestrictUserns: sysctl('kernel/apparmor_restrict_unprivileged_userns'),
        },
      });
    })();
    probes.set(key, p);
  }
  return p;
};

/** Whether the sandbox works here (tests skip what needs it when it does not). */
export const bwrapAvailable = async (bin: SandboxBinaries = {}): Promise<boolean> => (await checkSandbox(bin)) === undefined;

/** The agent's program is not there (so the sandbox is not even started). */
export class ProgramNotFoundError extends Error {
  override readonly name = 'ProgramNotFoundError';
  constructor(readonly program: string) {
    super(`could not start ${program}: no such executable`);
  }
}

/** Fails early, with the same meaning as ENOENT from a plain spawn, when the program is missing. */
const assertRunnable = async (program: string, path = ''): Promise<void> => {
  const candidates = program.includes('/') ? [program] : path.split(':').filter(Boolean).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return;
    } catch {
      // Next one.
    }
  }
  throw new ProgramNotFoundError(program);
};

/** Pure: the agent's environment as seen inside, every HTTP client pointed at the bridge. */
export const sandboxEnv = (env: Record<string, string>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!/^(https?|no|all|ftp)_proxy$/i.test(k)) out[k] = v;
  }
  const proxy = `http://127.0.0.1:${egressInside.port}`;
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) out[k] = proxy;
  return out;
};

export interface SandboxOptions {
  sandbox: 'none' | 'bwrap';
  forbiddenPaths: string[];
  workdir: string;
  /** The agent's environment (allow-listed by env.ts); HOME becomes an empty tmpfs. */
  env: Record<string, string>;
  writable?: string[];
  /** Extra read-only paths the runner needs (its own binary's directory). */
  toolchain?: string[];
  /** The bot's own places (store directory, mirrors, config): masked if a mounted tree shows them. */
  hidden?: string[];
  /** `permissions.network.allow`: hosts reachable besides the model API. */
  networkAllow?: string[];
  binaries?: SandboxBinaries;
}

export interface Sandbox {
  argv: string[];
  env: Record<string, string>;
  /** Destinations the proxy refused (`host:port`), for the transcript or error. */
  refused: string[];
  /** Stops the proxy and removes its socket; call after the process ended. */
  close(): Promise<void>;
}

/**
 * `argv` and `env` as they run: unchanged with `sandbox: none`; otherwise wrapped in bwrap,
 * with the run's egress proxy started. Throws a `SandboxUnavailableError` naming the fix when
 * the sandbox does not work here: an agent never silently runs unsandboxed.
 */
export const openSandbox = async (argv: string[], opts: SandboxOptions): Promise<Sandbox> => {
  if (opts.sandbox === 'none') return { argv, env: opts.env, refused: [], close: async () => undefined };
  const problem = await checkSandbox(opts.binaries);
  if (problem) throw problem;
  await assertRunnable(argv[0] ?? '', opts.env.PATH);
  const allow = [modelHost(opts.env), ...parseAllowList(opts.networkAllow ?? [])];
  const home = opts.env.HOME && opts.env.HOME !== '/' && !under(opts.workdir, opts.env.HOME) ? opts.env.HOME : undefined;
  const homes = [homedir(), ...(opts.env.HOME ? [opts.env.HOME] : [])];
  const masked = await resolveForbidden([...opts.forbiddenPaths, ...(opts.hidden ?? [])], opts.workdir, homes);
  const readOnly = await resolveReadOnly([...toolchainRoots, nodePrefix(), ...(opts.toolchain ?? [])]);
  const egressDir = await mkdtemp(join(tmpdir(), 'doom-egress-'));
  try {
    const proxy = await startEgressProxy(join(egressDir, 'proxy.sock'), allow);
    const wrapped = bwrapArgv(argv, {
      workdir: opts.workdir,
      home,
      writable: opts.writable,
      readOnly,
      masked,
      egressDir,
      binary: opts.binaries?.bwrap,
      socat: opts.binaries?.socat,
    });
    return {
      argv: wrapped,
      env: sandboxEnv(opts.env),
      refused: proxy.refused,
      close: async () => {
        await proxy.close();
        await rm(egressDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(egressDir, { recursive: true, force: true });
    throw err;
  }
};

/** What the executor tells every runner about the sandbox: the bot's places, and binaries. */
export interface SandboxContext {
  hidden?: string[];
  binaries?: SandboxBinaries;
}

/** `openSandbox` for an agent file's `permissions`. */
export const openAgentSandbox = (
  argv: string[],
  permissions: PermissionsConfig,
  run: { workdir: string; env: Record<string, string>; writable?: string[]; toolchain?: string[] },
  ctx: SandboxContext = {},
): Promise<Sandbox> =>
  openSandbox(argv, {
    sandbox: permissions.sandbox,
    forbiddenPaths: permissions.forbidden_paths,
    networkAllow: permissions.network?.allow,
    ...run,
    ...ctx,
  });

/** A line for a failed run's error naming the destinations the sandbox refused, if any. */
export const refusedNote = (refused: readonly string[]): string =>
  refused.length === 0 ? '' : `\nthe sandbox refused connections to ${[...new Set(refused)].join(', ')} (not on permissions.network.allow)`;
