/**
 * The bot's own checks of a candidate, run in fresh checkouts the agent never saw: the guards
 * (protected paths, deleted tests, skip markers, and any change to the oracle's files), the
 * oracle (its files restored as the tests phase wrote them), the repository's suite against
 * the same suite on the base commit, and lint. The verdicts are decided by pure functions
 * (select.ts); this module runs the commands and remembers the base's runs for the execution.
 *
 * ```ts
 * const checker = new Checker({ bench, baseSha, oracle, commands, protectedPaths, signal });
 * const { checks, findings } = await checker.check({ commit, files, from: oracle?.commit ?? baseSha });
 * ```
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectChange, type GuardFinding } from '../policy/guards.js';
import { readChangeSet } from '../workspace/changes.js';
import { runCommand, type RepoCommands } from './commands.js';
import type { Checks, CheckVerdict } from './schemas.js';
import { needsRerun, suiteVerdict, type SuiteRun } from './select.js';
import { confinementOf, inCheckout, restoreFiles, type Bench } from './workbench.js';

export interface CheckerDeps {
  bench: Bench;
  baseSha: string;
  oracle: { files: string[]; commit: string; command: string[] } | null;
  commands: RepoCommands;
  protectedPaths: string[];
  signal: AbortSignal;
}

export interface CandidateChange {
  commit: string;
  /** Files the candidate's patch touches. */
  files: string[];
  /** Where the candidate's own change starts (the oracle commit, else the base). */
  from: string;
}

const TAIL = 2_000;

/** `node --test`, TAP and most runners print a fail count. */
export function failCount(output: string): number | null {
  const m = /^(?:#|ℹ)\s*fail\s+(\d+)/m.exec(output) ?? /(\d+) failed/.exec(output);
  return m ? Number(m[1]) : null;
}

export class Checker {
  private base: SuiteRun | null = null;
  private rerun: { ok: boolean } | null = null;
  /** Suite re-runs on the base after a disagreement, and how many of them flipped. */
  readonly reruns = { suite: 0, flaky: 0 };

  constructor(private readonly deps: CheckerDeps) {}

  async check(change: CandidateChange): Promise<{ checks: Checks; findings: GuardFinding[] }> {
    const notes: Record<string, string> = {};
    const { findings, guards } = await this.guards(change, notes);
    const { test, lint } = this.deps.commands;
    const verdicts = await inCheckout(this.deps.bench, change.commit, async (dir, ws) => {
      let oracle: CheckVerdict = 'skipped';
      const o = this.deps.oracle;
      if (o && test) {
        await restoreFiles(ws, o.commit, o.files);
        const r = await runCommand(o.command, dir, test.timeoutMs, this.deps.signal, confinementOf(this.deps.bench));
        oracle = r.exitCode === 0 ? 'pass' : 'fail';
        if (oracle === 'fail') notes.oracle = r.output.slice(-TAIL);
        // The suite is the repository's own tests: the oracle is judged on its own above.
        for (const f of o.files) await rm(join(dir, f), { force: true });
      }
      const suite = test ? await this.suite(dir, notes) : 'skipped';
      let linted: CheckVerdict = 'skipped';
      if (lint) {
        const r = await runCommand(lint.argv, dir, lint.timeoutMs, this.deps.signal, confinementOf(this.deps.bench));
        linted = r.exitCode === 0 ? 'pass' : 'fail';
        if (linted === 'fail') notes.lint = r.output.slice(-TAIL);
      }
      return { oracle, suite, lint: linted };
    });
    return { checks: { guards, ...verdicts, notes }, findings };
  }

  private async guards(change: CandidateChange, notes: Record<string, string>): Promise<{ findings: GuardFinding[]; guards: CheckVerdict }> {
    const set = await readChangeSet({ kind: 'commits', gitDir: this.deps.bench.mirror, base: change.from, head: change.commit });
    const findings = inspectChange(set, this.deps.protectedPaths).findings;
    const touchedOracle = (this.deps.oracle?.files ?? []).filter((f) => change.files.includes(f));
    const said = [...(findings.length > 0 ? [findings.map((f) => f.file).join(', ')] : []), ...(touchedOracle.length > 0 ? [`changed the oracle test ${touchedOracle.join(', ')}`] : [])];
    if (said.length > 0) notes.guards = said.join('; ');
    return { findings, guards: said.length > 0 ? 'fail' : 'pass' };
  }

  /** The suite on the candidate against the base's, the base run again once on a disagreement. */
  private async suite(dir: string, notes: Record<string, string>): Promise<CheckVerdict> {
    const test = this.deps.commands.test!;
    const { bench, baseSha, signal } = this.deps;
    const r = await runCommand(test.argv, dir, test.timeoutMs, signal, confinementOf(bench));
    const mine = { ok: r.exitCode === 0, fails: failCount(r.output) };
    const base = (this.base ??= await inCheckout(bench, baseSha, async (baseDir) => {
      const b = await runCommand(test.argv, baseDir, test.timeoutMs, signal, confinementOf(bench));
      return { ok: b.exitCode === 0, fails: failCount(b.output) };
    }));
    if (needsRerun(mine, base) && !this.rerun) {
      this.reruns.suite++;
      this.rerun = await inCheckout(bench, baseSha, async (baseDir) => ({ ok: (await runCommand(test.argv, baseDir, test.timeoutMs, signal, confinementOf(bench))).exitCode === 0 }));
      if (this.rerun.ok !== base.ok) this.reruns.flaky++;
    }
    const verdict = suiteVerdict(mine, base, needsRerun(mine, base) ? this.rerun : null);
    if (verdict === 'flaky') notes.suite = 'the suite gave another result on the base commit when run again: flaky, not held against the candidate';
    if (verdict === 'fail') notes.suite = r.output.slice(-TAIL);
    return verdict;
  }
}
