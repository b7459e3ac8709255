/**
 * Optional bubblewrap sandbox around an agent process (`permissions.sandbox: bwrap`).
 *
 * What it isolates:
 * - the file system: `/` is mounted read-only; only the workdir (and any `writable`
 *   extras) is writable; `/tmp` and `$HOME` are fresh, empty tmpfs mounts (so the bot's
 *   `~/.ssh`, `~/.config/gh`, `~/.gitconfig` are not visible and nothing written there
 *   survives the run); `forbidden_paths` are hidden (a directory under an empty tmpfs, a
 *   file under `/dev/null` on a nodev mount, so opening it fails with EACCES), with the few `/etc` files a networked process needs (DNS,
 *   TLS roots, passwd) mounted back read-only when `/etc` itself is forbidden;
 * - processes: new PID, IPC, UTS, cgroup and user namespaces (`--unshare-all`), so the agent
 *   sees only its own processes, and `--die-with-parent` plus the PID namespace end every
 *   process of the run with it; `--new-session` keeps it off the bot's terminal.
 *
 * What it does not isolate:
 * - the network (`--share-net`): the agent needs the model API, so it can reach anything the
 *   host can, including the forge API and cloud metadata endpoints; no domain allow-list;
 * - reading: everything under `/` that is not forbidden stays readable (other worktrees, the
 *   bot's SQLite file if it is not listed in `forbidden_paths`);
 * - resources: no CPU, memory or disk limits (use the Kubernetes executor or cgroups);
 * - git: a worktree's metadata lives in the main repository's `.git`, which is read-only
 *   here unless passed in `writable`; the agent can edit files but `git add` fails (the bot
 *   commits anyway).
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export type PathKind = 'dir' | 'file' | 'missing';

export interface BwrapSpec {
  workdir: string;
  /** HOME inside the sandbox: a fresh tmpfs is mounted there. */
  home?: string;
  /** Extra read-write binds (absolute paths). */
  writable?: string[];
  /** Absolute forbidden paths with what they are on the host. */
  forbidden: { path: string; kind: PathKind }[];
  /** bwrap binary; `bwrap` on PATH by default. */
  binary?: string;
}

/** Files under `/etc` a process needs for DNS, TLS and user lookups; re-bound when `/etc` is hidden. */
export const essentialPaths = [
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
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

/** Pure: the bwrap argv that runs `argv` inside the sandbox described by `spec`. */
export const bwrapArgv = (argv: string[], spec: BwrapSpec): string[] => {
  const out = [
    spec.binary ?? 'bwrap',
    '--die-with-parent',
    '--new-session',
    '--unshare-all',
    '--share-net',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
  ];
  const masked: string[] = [];
  for (const f of spec.forbidden) {
    // Hiding `/` (or a missing path) is not possible; Claude Code's deny rules still apply.
    if (f.kind === 'missing' || f.path === '/') continue;
    if (f.kind === 'dir') out.push('--tmpfs', f.path);
    else out.push('--ro-bind', '/dev/null', f.path);
    masked.push(f.path);
  }
  for (const e of essentialPaths) {
    if (masked.some((m) => under(e, m) && e !== m)) out.push('--ro-bind-try', e, e);
  }
  if (spec.home) out.push('--tmpfs', spec.home);
  for (const w of spec.writable ?? []) out.push('--bind', w, w);
  out.push('--bind', spec.workdir, spec.workdir, '--chdir', spec.workdir, '--', ...argv);
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

/** Resolves forbidden paths against the host file system, for `bwrapArgv`. */
export const resolveForbidden = async (
  paths: string[],
  workdir: string,
  homes: string[],
): Promise<{ path: string; kind: PathKind }[]> =>
  Promise.all(
    paths.flatMap((p) => absoluteForbidden(p, workdir, homes)).map(async (path) => ({ path, kind: await kindOf(path) })),
  );

let available: Promise<boolean> | undefined;

/** Whether bubblewrap runs here (installed, and namespaces allowed). Cached per process. */
export const bwrapAvailable = (binary = 'bwrap'): Promise<boolean> => {
  if (binary !== 'bwrap') return probe(binary);
  available ??= probe(binary);
  return available;
};

const probe = (binary: string): Promise<boolean> =>
  new Promise((done) => {
    execFile(binary, ['--ro-bind', '/', '/', 'true'], { timeout: 10_000 }, (err) => done(err === null));
  });

export interface SandboxOptions {
  sandbox: 'none' | 'bwrap';
  forbiddenPaths: string[];
  workdir: string;
  /** The agent's HOME (from its env): becomes an empty tmpfs inside the sandbox. */
  home?: string;
  writable?: string[];
}

/**
 * `argv` unchanged without a sandbox; wrapped in bwrap with one. Throws when bwrap was asked
 * for and does not work here: an agent never silently runs unsandboxed.
 */
export const sandboxArgv = async (argv: string[], opts: SandboxOptions): Promise<string[]> => {
  if (opts.sandbox === 'none') return argv;
  if (!(await bwrapAvailable())) {
    throw new Error('permissions.sandbox is bwrap but bubblewrap does not work here (install the bubblewrap package)');
  }
  const homes = [homedir(), ...(opts.home ? [opts.home] : [])];
  const forbidden = await resolveForbidden(opts.forbiddenPaths, opts.workdir, homes);
  const home = opts.home && opts.home !== '/' && !under(opts.workdir, opts.home) ? opts.home : undefined;
  return bwrapArgv(argv, { workdir: opts.workdir, home, writable: opts.writable, forbidden });
};
