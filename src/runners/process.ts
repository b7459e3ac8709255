/**
 * Spawning and stopping an agent process, shared by every runner that runs one. No shell:
 * argv goes straight to exec. The agent runs in its own process group (`detached`), and a
 * stop kills the group plus every descendant found in /proc, because agents start children
 * in new sessions of their own (Claude Code runs each Bash tool call under `setsid`), which
 * a process-group kill alone would leave running.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Why a run was stopped from outside. */
export type StopReason = 'timeout' | 'cancelled' | 'token_limit';

/**
 * How callers say why they aborted a run: abort with `abortReasons.timeout()` (or use
 * `AbortSignal.timeout(ms)`, whose reason is a `TimeoutError` too) for a timeout; any
 * other reason (plain `controller.abort()`) means cancelled.
 */
export const abortReasons = {
  timeout: (): DOMException => new DOMException('the run timed out', 'TimeoutError'),
  cancel: (): DOMException => new DOMException('the run was cancelled', 'AbortError'),
} as const;

/** `timeout` when the signal's reason is a TimeoutError (or the string `timeout`), else `cancelled`. */
export const abortOutcome = (signal: AbortSignal): 'timeout' | 'cancelled' => {
  const r: unknown = signal.reason;
  if (r === 'timeout') return 'timeout';
  if (typeof r === 'object' && r !== null && (r as { name?: unknown }).name === 'TimeoutError') return 'timeout';
  return 'cancelled';
};

/** The error text for a run stopped from outside. */
export const stopMessage = (reason: StopReason, maxTokens: number): string =>
  reason === 'token_limit'
    ? `stopped: passed the token budget of ${maxTokens}`
    : reason === 'timeout'
      ? 'stopped: the run timed out'
      : 'stopped: the run was cancelled';

export interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin, which is then closed; stdin is `/dev/null`-like (closed) when absent. */
  stdin?: string;
  signal: AbortSignal;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Called with the pid once the process started (tests use it to check nothing is left). */
  onSpawn?: (pid: number) => void;
  /** Time between SIGTERM and SIGKILL when stopping. */
  killGraceMs?: number;
}

export interface ProcessResult {
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** Set when the run was stopped by `stop()` or the abort signal. */
  stopped?: StopReason;
  /** Set when the process could not be started (e.g. ENOENT). */
  spawnError?: string;
}

export interface RunningProcess {
  pid: number | undefined;
  /** Stops the whole tree: SIGTERM, then SIGKILL after the grace period. Idempotent. */
  stop(reason: StopReason): void;
  done: Promise<ProcessResult>;
}

interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  start: string;
}

/** All processes from /proc (Linux); empty elsewhere, where only the group kill applies. */
const listProcesses = (): ProcEntry[] => {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), ppid: Number(f[1]), pgid: Number(f[2]), start: f[19] ?? '' });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
};

/** The process `root` and every descendant of it, with start times (to avoid killing a reused pid). */
export const processTree = (root: number): Map<number, string> => {
  const all = listProcesses();
  const children = new Map<number, ProcEntry[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const tree = new Map<number, string>();
  const self = all.find((p) => p.pid === root);
  if (self) tree.set(root, self.start);
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const c of children.get(pid) ?? []) {
      if (tree.has(c.pid)) continue;
      tree.set(c.pid, c.start);
      queue.push(c.pid);
    }
  }
  return tree;
};

/** Whether a process with this pid (and, if given, start time) still exists and is not a zombie. */
export const isAlive = (pid: number, start?: string): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z') return false;
    return start === undefined || f[19] === start;
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
};

const trySignal = (target: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(target, sig);
  } catch {
    // Already gone (ESRCH) or not ours (EPERM): nothing to do.
  }
};

/** Signals the group of `root` and each remembered descendant (and the groups they lead). */
const signalTree = (root: number, known: Map<number, string>, sig: NodeJS.Signals): void => {
  trySignal(-root, sig);
  for (const [pid, start] of known) {
    if (!isAlive(pid, start)) continue;
    trySignal(pid, sig);
  }
  for (const p of listProcesses()) {
    // Session/group leaders among the descendants (e.g. `setsid bash -c …`): kill their groups.
    if (known.has(p.pid) && p.pgid === p.pid && known.get(p.pid) === p.start) trySignal(-p.pid, sig);
  }
};

const stderrCap = 64 * 1024;

/** Spawns argv (no shell) in its own process group and watches the abort signal. */
export const runProcess = (spec: SpawnSpec): RunningProcess => {
  const [file, ...args] = spec.argv;
  if (file === undefined) throw new Error('runProcess: empty argv');
  const grace = spec.killGraceMs ?? 3000;
  const child = spawn(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    shell: false,
  });
  const pid = child.pid;
  let stopped: StopReason | undefined;
  let exited = false;
  let killTimer: NodeJS.Timeout | undefined;
  const known = new Map<number, string>();

  const stop = (reason: StopReason): void => {
    // After exit the pid may belong to someone else: never signal it then.
    if (stopped || exited || pid === undefined) return;
    stopped = reason;
    for (const [p, s] of processTree(pid)) known.set(p, s);
    signalTree(pid, known, 'SIGTERM');
    killTimer = setTimeout(() => {
      // Children may have started since the SIGTERM: take them in before the SIGKILL.
      for (const [p, s] of processTree(pid)) known.set(p, s);
      signalTree(pid, known, 'SIGKILL');
    }, grace);
  };

  const onAbort = (): void => stop(abortOutcome(spec.signal));

  const done = new Promise<ProcessResult>((resolve) => {
    let settled = false;
    const finish = (r: ProcessResult): void => {
      if (settled) return;
      settled = true;
      spec.signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (pid !== undefined) {
        // Make sure nothing we knew of outlives the run, stopped or not.
        signalTree(pid, known, 'SIGKILL');
      }
      resolve(r);
    };
    child.once('error', (err) => finish({ exitCode: null, exitSignal: null, spawnError: err.message }));
    child.once('exit', (code, sig) => {
      exited = true;
      // stdout may stay open if an orphan holds it; do not wait for it forever.
      const t = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish({ exitCode: code, exitSignal: sig, stopped });
      }, grace);
      child.once('close', () => {
        clearTimeout(t);
        finish({ exitCode: code, exitSignal: sig, stopped });
      });
    });
  });

  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => spec.onStdout?.(c));
  child.stderr?.on('data', (c: string) => spec.onStderr?.(c));
  if (child.stdin) {
    // The agent may exit without reading its input; that is not our error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(spec.stdin ?? '');
  }
  if (pid !== undefined) spec.onSpawn?.(pid);
  if (spec.signal.aborted) onAbort();
  else spec.signal.addEventListener('abort', onAbort, { once: true });

  return { pid, stop, done };
};

/** Keeps the last `cap` characters of a growing text (stderr tails for error messages). */
export class TailBuffer {
  private text = '';
  constructor(private readonly cap: number = stderrCap) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.cap * 2) this.text = this.text.slice(-this.cap);
  }
  toString(): string {
    return this.text.length > this.cap ? this.text.slice(-this.cap) : this.text;
  }
}
