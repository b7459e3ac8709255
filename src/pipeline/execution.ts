/**
 * One pipeline execution: the phases of one attempt, from the spec to the docs. The DAG
 * (dag.ts) says which phase is next; each handler here does its phase's work within the
 * phase's allowance (budget.ts) and says how it ended. Every transition is written to the
 * store as it happens, so `doom candidates`, `doom status` and /metrics see a running
 * execution too, and a stopped one keeps what it made.
 */
import type { Kysely } from 'kysely';
import type { Config, Priority, TaskType } from '../config/schema.js';
import type { RunRequest, RunResult } from '../executor/contract.js';
import type { ForgeDirectory } from '../forges/forge.js';
import type { Logger } from '../log.js';
import type { GuardFinding } from '../policy/guards.js';
import type { PermissionsConfig, RunnerConfig } from '../runners/config.js';
import { emptyUsage, tokensUsed, type Runner, type Usage } from '../runners/runner.js';
import type { SandboxContext } from '../runners/sandbox.js';
import { recentRuns, recordCandidate, recordSelection, saveExecution } from '../store/pipeline.js';
import type { Database } from '../store/schema.js';
import { getTask } from '../store/tasks.js';
import { sanitizeName } from '../util/sanitize.js';
import { git } from '../workspace/git.js';
import type { MirrorCache } from '../workspace/mirror.js';
import { push } from '../workspace/publish.js';
import { createWorkspace } from '../workspace/worktree.js';
import { openBreakers, pickCandidates, rankedAgents, stepAgentOf } from './agents.js';
import { modelApiBreaker } from './breakers.js';
import { addBudget, allowanceFor, stepLimits, zeroBudget, type StepLimits } from './budget.js';
import { oracleArgv, repoCommands, runCommand, type RepoCommands } from './commands.js';
import { decideNext, phaseOrder } from './dag.js';
import { changedLineCoverage, renderDocs, type CoverageOfChange } from './docs.js';
import { buildPrompt, readGuidance, type Guidance } from './prompt.js';
import type { Budget, CandidateRecord, Checks, CheckVerdict, ExecutionState, PhaseName, PhaseRecord, Policy, Spec } from './schemas.js';
import { clusterPatches, diffLines, pairwiseOutcomes, passesCritical, patchHash, selectCandidate, type Selection } from './select.js';
import { Checker } from './checks.js';
import { ACCEPTANCE_FILE, specFromAgent, specFromIssue, specFromTitle } from './spec.js';
import { stepSection, type StepKind } from './steps.js';
import { confinementOf, inCheckout, keepRef, patchOf, runAgentStep, type Bench, type StepAgent } from './workbench.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ExecutionDeps {
  db: Kysely<Database>;
  config: Config;
  forges: ForgeDirectory;
  log: Logger;
  syncIssue?: (taskId: number) => Promise<void>;
  mirrors: MirrorCache;
  mirrorKey: string;
  workspaceDir: string;
  baseEnv?: NodeJS.ProcessEnv;
  sandbox?: SandboxContext;
  runnerFor?: (config: RunnerConfig, permissions: PermissionsConfig, sandbox: SandboxContext) => Runner;
}

/** How a phase handler says its phase ended. */
interface PhaseEnd {
  status: 'done' | 'skipped' | 'failed' | 'stopped';
  outcome: string;
  note?: string;
}

export interface Candidate {
  index: number;
  agent: StepAgent;
  variant: string;
  outcome: CandidateRecord['outcome'];
  error: string | null;
  commit: string | null;
  patch: string | null;
  files: string[];
  usage: Usage;
  durationMs: number;
  summary: string | null;
  checks: Checks | null;
  findings: GuardFinding[];
  passed: boolean;
}

interface Oracle {
  files: string[];
  commit: string;
  command: string[];
}

const end = (status: PhaseEnd['status'], outcome: string, note?: string): PhaseEnd => ({ status, outcome, ...(note ? { note } : {}) });

function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException('the pipeline ran out of time', 'TimeoutError')), ms).unref();
  return controller.signal;
}

export class Execution {
  private readonly state: ExecutionState;
  /**
   * The policy's rubric, except that under `on_protected_change = refuse` the guards gate is
   * critical whatever it says: a change the bot refuses to push must not win.
   */
  private readonly rubric: Policy['rubric'];
  private readonly signal: AbortSignal;
  private readonly started = performance.now();
  private bench!: Bench;
  private baseSha = '';
  private commands: RepoCommands = { test: null, lint: null, coverage: null };
  private guidance: Guidance[] = [];
  private oracle: Oracle | null = null;
  private readonly candidates: Candidate[] = [];
  private selection: Selection | null = null;
  private merged: { sha: string; files: string[]; winner: Candidate } | null = null;
  private docs: string | null = null;
  private readonly usage: Usage = emptyUsage();
  private readonly metrics = { pass_at_1: null as boolean | null, pass_at_k: null as boolean | null };
  private checks: Checker | null = null;
  private failure: string | null = null;

  constructor(
    private readonly deps: ExecutionDeps,
    private readonly request: RunRequest,
    private readonly policy: Policy,
    cancel: AbortSignal,
  ) {
    this.signal = AbortSignal.any([cancel, timeoutSignal(policy.budget.total.wall_ms)]);
    this.rubric = request.policy.onProtectedChange === 'refuse' ? { gates: { ...policy.rubric.gates, guards: 'critical' } } : policy.rubric;
    this.state = {
      task_id: request.task.id,
      attempt: request.runId,
      priority: request.task.priority,
      phase: null,
      phases: {},
      gates_passed: [],
      budget: { total: policy.budget.total, spent: zeroBudget() },
      breakers: [],
      spec: null,
      implementation: null,
      outcome: null,
    };
  }

  private get primary(): StepAgent {
    const a = this.request.agent;
    return { name: a.name, tier: a.tier, systemPrompt: a.systemPrompt, toolsAllowed: a.toolsAllowed, runner: a.runner, permissions: a.permissions };
  }

  async run(): Promise<RunResult> {
    try {
      await this.prepare();
    } catch (error) {
      return this.result({ outcome: this.signal.aborted ? 'cancelled' : 'failed', error: message(error), failure: { stage: 'workspace' } });
    }
    await this.save();
    const order = phaseOrder(this.policy.phases);
    for (;;) {
      const next = decideNext(order, this.state.phases);
      if (next.kind === 'end') break;
      if (next.kind === 'skip') {
        this.state.phases[next.phase] = { ...this.record(next.phase), status: 'skipped', outcome: 'blocked', note: next.why };
        continue;
      }
      if (this.signal.aborted) {
        this.state.phases[next.phase] = { ...this.record(next.phase), status: 'stopped', outcome: 'cancelled' };
        continue;
      }
      await this.runPhase(next.phase);
    }
    this.state.phase = null;
    return this.finish();
  }

  /** The mirror, the base commit, the repository's commands and guidance, read once. */
  private async prepare(): Promise<void> {
    const { request, deps } = this;
    const mirror = await deps.mirrors.ensure(deps.mirrorKey, request.repository.cloneUrl, await request.credential(), this.signal);
    this.bench = { mirror, lock: deps.mirrors.lockFor(deps.mirrorKey), root: deps.workspaceDir, sandbox: deps.sandbox, checksSandbox: deps.config.pipeline.checks_sandbox, baseEnv: deps.baseEnv, runnerFor: deps.runnerFor };
    this.baseSha = await git(['--git-dir', mirror, 'rev-parse', '--verify', `refs/remotes/origin/${request.repository.defaultBranch}^{commit}`]);
    await inCheckout(this.bench, this.baseSha, async (dir) => {
      this.commands = await repoCommands(deps.config, request.repository.fullName, dir);
      this.guidance = await readGuidance(dir);
    });
  }

  private record(phase: PhaseName): PhaseRecord {
    return this.state.phases[phase] ?? { status: 'pending', started_at: null, ended_at: null, outcome: null, tokens: 0, cost_usd: 0, duration_ms: 0, budget: null, note: null };
  }

  private async runPhase(phase: PhaseName): Promise<void> {
    const t0 = performance.now();
    const rec: PhaseRecord = { ...this.record(phase), status: 'running', started_at: new Date().toISOString(), budget: this.allowance(phase, t0) };
    this.state.phases[phase] = rec;
    this.state.phase = phase;
    await this.save();
    let out: PhaseEnd;
    try {
      out = await this.handlers[phase].call(this, phase, t0);
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: this.request.task.id, phase }, 'a pipeline phase failed');
      out = end('failed', 'error', message(error));
    }
    const ms = performance.now() - t0;
    this.state.budget.spent.wall_ms += Math.round(ms);
    Object.assign(rec, { status: out.status, outcome: out.outcome, note: out.note ?? null, ended_at: new Date().toISOString(), duration_ms: Math.round(ms) });
    if (out.status === 'failed' && this.failure === null) this.failure = out.note ?? out.outcome;
    await this.save();
    if (phase === 'spec' && this.state.spec) await this.showSpec();
  }

  private readonly handlers: Record<PhaseName, (this: Execution, phase: PhaseName, t0: number) => Promise<PhaseEnd>> = {
    spec: Execution.prototype.specPhase,
    brief: async () => end('skipped', 'not_built'),
    plan: async () => end('skipped', 'not_built'),
    tests: Execution.prototype.testsPhase,
    implement: Execution.prototype.implementPhase,
    review: Execution.prototype.reviewPhase,
    repair: Execution.prototype.repairPhase,
    merge: Execution.prototype.mergePhase,
    docs: Execution.prototype.docsPhase,
  };

  // ---- budgets ----

  /** What `phase` may still spend, its elapsed wall time counted (the task's as well). */
  private allowance(phase: PhaseName, t0: number): Budget {
    const elapsed = Math.round(performance.now() - t0);
    const rec = this.state.phases[phase];
    const phaseSpent = { tokens: rec?.tokens ?? 0, usd: rec?.cost_usd ?? 0, wall_ms: elapsed };
    const taskSpent = addBudget(this.state.budget.spent, { tokens: 0, usd: 0, wall_ms: elapsed });
    return allowanceFor(this.policy.budget.phases[phase], this.policy.budget.total, taskSpent, phaseSpent);
  }

  /** The limits of the next model step of `phase`, split `share` ways; checked before the step starts. */
  private limits(phase: PhaseName, t0: number, share = 1): StepLimits {
    return stepLimits(this.allowance(phase, t0), { maxTokens: this.request.task.maxTokens, timeoutMs: this.request.task.timeoutMs }, share);
  }

  private spend(phase: PhaseName, usage: Usage): void {
    const tokens = tokensUsed(usage);
    for (const k of Object.keys(usage) as (keyof Usage)[]) this.usage[k] += usage[k];
    this.state.budget.spent.tokens += tokens;
    this.state.budget.spent.usd += usage.costUsd;
    // In place: runPhase holds this record and writes the phase's end into it.
    const rec = (this.state.phases[phase] ??= this.record(phase));
    rec.tokens += tokens;
    rec.cost_usd += usage.costUsd;
  }

  // ---- model steps ----

  private prompt(kind: StepKind, variant = 0, failures?: string): string {
    const t = this.request.task;
    const task = { id: t.id, type: t.type, priority: t.priority, title: t.title, description: t.description, tags: t.tags, constraints: { max_tokens: t.maxTokens, timeout_ms: t.timeoutMs } };
    const base = buildPrompt({ task, guidance: this.guidance, repo: this.request.repository.fullName });
    return base + stepSection({ kind, spec: this.state.spec, oracleFiles: this.oracle?.files ?? [], variant, ...(failures !== undefined ? { failures } : {}) });
  }

  private step(agent: StepAgent, kind: StepKind, start: string, limits: Extract<StepLimits, { kind: 'go' }>, opts: { variant?: number; failures?: string; label: string; commit: boolean; readBack?: string }) {
    const r = this.request;
    return runAgentStep(this.bench, {
      agent,
      start,
      branch: `${r.branch}--${opts.label}`,
      prompt: this.prompt(kind, opts.variant ?? 0, opts.failures),
      limits,
      signal: this.signal,
      author: r.author,
      message: `doom: ${kind} step of task ${r.task.id} (${opts.label})\n\nDoom-Task: ${r.task.id}\nDoom-Agent: ${agent.name}\n`,
      commit: opts.commit,
      ...(opts.readBack ? { readBack: opts.readBack } : {}),
    });
  }

  // ---- phases ----

  private async specPhase(phase: PhaseName, t0: number): Promise<PhaseEnd> {
    const body = await this.issueBody();
    const fromIssue = body === null ? null : specFromIssue(body);
    if (fromIssue) {
      this.state.spec = fromIssue;
      return end('done', 'from_issue', `${fromIssue.acceptance.length} criteria from the issue's acceptance list`);
    }
    const limits = this.limits(phase, t0);
    if (limits.kind === 'refused') {
      this.state.spec = specFromTitle(this.request.task.title);
      return end('stopped', 'budget', limits.reason);
    }
    const out = await this.step(this.primary, 'spec', this.baseSha, limits, { label: 'spec', commit: false, readBack: ACCEPTANCE_FILE });
    this.spend(phase, out.result.usage);
    this.state.spec = specFromAgent(out.readBack) ?? specFromTitle(this.request.task.title);
    const stopped = out.result.outcome === 'token_limit' || out.result.outcome === 'timeout';
    return end(stopped ? 'stopped' : 'done', this.state.spec.source === 'agent' ? 'from_agent' : 'from_title', stopped ? `the spec step stopped (${out.result.outcome}); what it wrote is kept` : undefined);
  }

  private async testsPhase(phase: PhaseName, t0: number): Promise<PhaseEnd> {
    if (!this.policy.tests_first.includes(this.request.task.type as TaskType)) return end('skipped', 'not_tests_first', `${this.request.task.type} tasks get no oracle test first`);
    const test = this.commands.test;
    if (!test) return end('skipped', 'no_test_command', `no test command: set [repositories."${this.request.repository.fullName}".commands] test`);
    const limits = this.limits(phase, t0);
    if (limits.kind === 'refused') return end('stopped', 'budget', limits.reason);
    const out = await this.step(this.primary, 'tests', this.baseSha, limits, { label: 'tests', commit: true });
    this.spend(phase, out.result.usage);
    if (!out.commit) {
      if (out.result.outcome === 'token_limit' || out.result.outcome === 'timeout') return end('stopped', 'budget', 'the test step stopped before it wrote a test');
      return end('failed', 'could_not_reproduce', 'could not reproduce: the test step wrote no test');
    }
    // A name that reads as an option (`--import=…`) is not handed to the test runner.
    const files = (await patchOf(this.bench, this.baseSha, out.commit)).files.filter((f) => !f.startsWith('-'));
    if (files.length === 0) return end('failed', 'could_not_reproduce', 'could not reproduce: the test step wrote no test file the bot can run');
    const command = oracleArgv(test, files);
    const run = await inCheckout(this.bench, out.commit, (dir) => runCommand(command, dir, test.timeoutMs, this.signal, confinementOf(this.bench)));
    this.state.spec = { ...(this.state.spec ?? specFromTitle(this.request.task.title)), oracle: { files, commit: out.commit, command, base: run.exitCode === 0 ? 'passes' : 'fails' } };
    if (run.exitCode === null) return end('failed', 'oracle_error', `the oracle test could not run: ${lastLine(run.output)}`);
    if (run.exitCode === 0) return end('failed', 'could_not_reproduce', `could not reproduce: the test written for the issue (${files.join(', ')}) passes on the base commit`);
    this.oracle = { files, commit: out.commit, command };
    await keepRef(this.bench, `refs/doom/oracle/${this.request.runId}`, out.commit);
    return end('done', 'reproduced', `${files.join(', ')} fails on the base commit (exit ${run.exitCode})`);
  }

  private async implementPhase(phase: PhaseName, t0: number): Promise<PhaseEnd> {
    const rules = this.deps.config.pipeline.breakers;
    const paused = modelApiBreaker(await recentRuns(this.deps.db, 20), rules, Date.now());
    if (paused.open) {
      this.state.breakers.push({ agent: '*', reason: paused.reason, open_until: paused.until });
      return end('stopped', 'paused', `new candidates wait until ${paused.until}: ${paused.reason}`);
    }
    const slots = await this.slots(this.policy.candidates);
    if (slots.length === 0) return end('failed', 'no_agent', 'every agent that could make a candidate has an open breaker');
    const start = this.oracle?.commit ?? this.baseSha;
    const parallel = this.deps.config.pipeline.parallel;
    let made = 0;
    while (made < slots.length) {
      const wave = slots.slice(made, made + parallel);
      const limits = this.limits(phase, t0, slots.length - made);
      if (limits.kind === 'refused') return end('stopped', 'budget', `${limits.reason}: ${slots.length - made} candidate(s) not made`);
      const made_ = await Promise.all(
        wave.map(async (slot) => this.candidate(phase, await this.agentFor(slot.agent), start, limits, { kind: 'implement', variant: slot.variant })),
      );
      made += wave.length;
      if (made_.some((c) => c.outcome === 'budget' || c.outcome === 'token_limit' || c.outcome === 'timeout')) {
        return end('stopped', 'budget', `a candidate reached its budget; its work is kept (${slots.length - made} candidate(s) not made)`);
      }
      if (this.signal.aborted) return end('stopped', 'cancelled');
      if (this.policy.stopping.stop_on_first_pass && made_.some((c) => c.passed) && made < slots.length) {
        return end('done', 'stopped_on_pass', `a candidate passed every gate; ${slots.length - made} candidate(s) not made`);
      }
    }
    return end('done', 'made', `${made} candidate(s)`);
  }

  private async reviewPhase(): Promise<PhaseEnd> {
    const made = this.candidates.filter((c) => c.variant === 'implement');
    this.metrics.pass_at_1 = made[0]?.passed ?? false;
    this.metrics.pass_at_k = made.some((c) => c.passed);
    const s = await this.select();
    if (s.winner === null) return end('done', 'no_candidate', s.reasons[0]);
    return end('done', s.passing ? 'selected' : 'no_passing_candidate', `#${s.winner + 1} ranks first${s.passing ? '' : ' but does not pass'}`);
  }

  private async repairPhase(phase: PhaseName, t0: number): Promise<PhaseEnd> {
    if (this.selection === null || this.selection.winner === null) return end('skipped', 'nothing_to_repair');
    if (this.selection.passing) return end('skipped', 'not_needed', 'a candidate passes every gate');
    const rounds = this.policy.repair.max_rounds;
    for (let round = 1; round <= rounds; round++) {
      const best = this.candidates[this.selection.winner!]!;
      const limits = this.limits(phase, t0, rounds - round + 1);
      if (limits.kind === 'refused') return end('stopped', 'budget', limits.reason);
      const fixed = await this.candidate(phase, best.agent, best.commit!, limits, { kind: 'repair', variant: round, failures: failureText(best) });
      const s = await this.select();
      if (s.passing) return end('done', 'repaired', `#${fixed.index + 1} passes after ${round} round(s)`);
      if (fixed.outcome !== 'success') return end('stopped', 'budget', `the repair stopped (${fixed.outcome}); its work is kept`);
    }
    return end('done', 'not_repaired', `no candidate passes after ${rounds} round(s)`);
  }

  private async mergePhase(): Promise<PhaseEnd> {
    const s = this.selection;
    if (!s || s.winner === null || !s.passing) return end('failed', 'no_passing_candidate', noWinnerReason(this.candidates, this.state.phases));
    const winner = this.candidates[s.winner]!;
    const r = this.request;
    await this.pushTo(r.branch, winner.commit!);
    if (this.deps.config.pipeline.push_candidates) {
      for (const c of this.candidates) if (c.commit && c !== winner) await this.pushTo(`${r.branch}--c${c.index + 1}`, c.commit);
    }
    const { files } = await patchOf(this.bench, this.baseSha, winner.commit!);
    this.merged = { sha: winner.commit!, files, winner };
    this.state.gates_passed = (['guards', 'oracle', 'suite', 'lint'] as const).filter((g) => winner.checks && ok(winner.checks[g]));
    return end('done', 'pushed', `#${winner.index + 1} (${winner.agent.name}) is on ${r.branch}`);
  }

  /** Pushes `sha` to `branch` with a lease on what the mirror last saw there (as a single run's push). */
  private async pushTo(branch: string, sha: string): Promise<void> {
    const r = this.request;
    const ws = await createWorkspace({ mirror: this.bench.mirror, lock: this.bench.lock, root: this.bench.root, branch, base: sha, signal: this.signal });
    try {
      await push(ws, { remoteUrl: r.repository.cloneUrl, credential: await r.credential(), signal: this.signal });
    } finally {
      await ws.remove();
    }
  }

  private async docsPhase(): Promise<PhaseEnd> {
    if (!this.merged) return end('skipped', 'nothing_merged');
    const coverage = await this.coverageOf(this.merged.winner);
    this.docs = renderDocs({ spec: this.state.spec, oracle: this.oracle, candidates: this.candidates, selection: this.selection!, winner: this.merged.winner, coverage, state: this.state });
    return end('done', 'written');
  }

  // ---- candidates ----

  /** K slots: the assigned agent, then the router's next best, skipping open breakers (recorded in the state). */
  private async slots(k: number) {
    const { db, config } = this.deps;
    const task = { type: this.request.task.type as TaskType, priority: this.request.task.priority as Priority };
    const ranked = await rankedAgents(db, config, task, this.request.agent.name);
    const open = await openBreakers(db, config.pipeline.breakers, [this.request.agent.name, ...ranked], Date.now());
    this.state.breakers.push(...open);
    return pickCandidates(this.request.agent.name, ranked, k, new Set(open.map((b) => b.agent)));
  }

  private async agentFor(name: string): Promise<StepAgent> {
    return name === this.request.agent.name ? this.primary : stepAgentOf(this.deps.db, name, this.request.task.type);
  }

  /** Makes one candidate (a run of its own), checks it, and records it. */
  private async candidate(
    phase: PhaseName,
    agent: StepAgent,
    start: string,
    limits: Extract<StepLimits, { kind: 'go' }>,
    kind: { kind: 'implement' | 'repair'; variant: number; failures?: string },
  ): Promise<Candidate> {
    const index = this.candidates.length;
    const c: Candidate = { index, agent, variant: kind.kind === 'repair' ? `repair-${kind.variant}` : 'implement', outcome: 'failed', error: null, commit: null, patch: null, files: [], usage: emptyUsage(), durationMs: 0, summary: null, checks: null, findings: [], passed: false };
    this.candidates.push(c);
    const out = await this.step(agent, kind.kind, start, limits, { label: `c${index + 1}`, commit: true, variant: kind.kind === 'implement' ? kind.variant : 0, ...(kind.failures !== undefined ? { failures: kind.failures } : {}) });
    this.spend(phase, out.result.usage);
    Object.assign(c, { outcome: out.result.outcome, error: out.result.error ?? null, usage: out.result.usage, durationMs: out.durationMs, summary: out.result.summary ?? null });
    if (out.commit && out.result.outcome !== 'failed') {
      await keepRef(this.bench, `refs/doom/candidates/${this.request.runId}/${index}`, out.commit);
      const from = this.oracle?.commit ?? this.baseSha;
      const { patch, files } = await patchOf(this.bench, from, out.commit);
      Object.assign(c, { commit: out.commit, patch, files });
      const checked = await this.checker().check({ commit: out.commit, files, from });
      c.checks = checked.checks;
      c.findings = checked.findings;
      c.passed = passesCritical(c.checks, this.rubric);
    }
    await this.saveCandidate(c, out.result.transcript);
    return c;
  }

  /** One checker per execution: it runs the base's suite once and remembers its re-run. */
  private checker(): Checker {
    this.checks ??= new Checker({ bench: this.bench, baseSha: this.baseSha, oracle: this.oracle, commands: this.commands, protectedPaths: this.request.policy.protectedPaths, signal: this.signal });
    return this.checks;
  }

  private async select(): Promise<Selection> {
    const selectable = this.candidates.map((c) => ({ index: c.index, agent: c.agent.name, commit: c.commit, checks: c.checks, diffLines: c.patch ? diffLines(c.patch) : 0, costUsd: c.usage.costUsd }));
    const s = selectCandidate(selectable, this.rubric);
    const clusters = clusterPatches(this.candidates.map((c) => c.patch));
    const pairs = pairwiseOutcomes(selectable, this.rubric);
    this.selection = s;
    this.state.implementation = { candidates: this.candidates.map((c) => this.candidateRecord(c, clusters[c.index] ?? null)), selected: s.winner, reasons: s.reasons, pairs };
    await recordSelection(this.deps.db, { assignmentId: this.request.runId, taskId: this.request.task.id, clusters: new Map(clusters.map((k, i) => [i, k])), selected: s.winner, pairs });
    return s;
  }

  private candidateRecord(c: Candidate, cluster: number | null): CandidateRecord {
    return {
      index: c.index,
      agent: c.agent.name,
      variant: c.variant,
      outcome: c.outcome,
      commit: c.commit,
      diff_lines: c.patch ? diffLines(c.patch) : 0,
      patch_hash: c.patch ? patchHash(c.patch) : null,
      cluster,
      checks: c.checks,
      tokens: tokensUsed(c.usage),
      cost_usd: c.usage.costUsd,
      duration_ms: Math.round(c.durationMs),
    };
  }

  private async saveCandidate(c: Candidate, transcript: string): Promise<void> {
    await recordCandidate(this.deps.db, {
      assignmentId: this.request.runId,
      taskId: this.request.task.id,
      index: c.index,
      agent: c.agent.name,
      variant: c.variant,
      outcome: c.outcome,
      error: c.error,
      commitSha: c.commit,
      patch: c.patch,
      patchHash: c.patch ? patchHash(c.patch) : null,
      diffLines: c.patch ? diffLines(c.patch) : 0,
      tokens: tokensUsed(c.usage),
      costUsd: c.usage.costUsd,
      turns: c.usage.turns,
      durationMs: c.durationMs,
      transcript,
      summary: c.summary,
      checks: c.checks,
      passed: c.passed,
    });
  }

  // ---- around the phases ----

  /** The sticky comment lists the criteria as soon as there are some; a forge error only delays that to the next update. */
  private async showSpec(): Promise<void> {
    try {
      await this.deps.syncIssue?.(this.request.task.id);
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: this.request.task.id }, 'could not show the acceptance criteria on the issue');
    }
  }

  /** The issue as the forge holds it now (the YAML block with `acceptance:`); null when it cannot be read. */
  private async issueBody(): Promise<string | null> {
    try {
      const task = await getTask(this.deps.db, this.request.task.id);
      if (!task) return null;
      const forge = await this.deps.forges.get(task.forge as 'github' | 'gitlab', task.installation_id ?? undefined);
      return (await forge.getIssue({ id: task.repo_id, fullName: task.repo }, task.issue_number))?.body ?? null;
    } catch (error) {
      this.deps.log.warn({ err: error, taskId: this.request.task.id }, 'the spec phase could not read the issue');
      return null;
    }
  }

  private async coverageOf(winner: Candidate): Promise<CoverageOfChange | null> {
    const cov = this.commands.coverage;
    if (!cov?.report || !winner.patch) return null;
    return inCheckout(this.bench, winner.commit!, async (dir) => {
      await runCommand(cov.argv, dir, cov.timeoutMs, this.signal, confinementOf(this.bench));
      const report = await readFile(join(dir, cov.report!), 'utf8').catch(() => null);
      return report === null ? null : changedLineCoverage(report, winner.patch!, dir);
    });
  }

  private async save(): Promise<void> {
    this.state.outcome = this.merged ? 'merged' : this.failure;
    await saveExecution(this.deps.db, this.state, {
      outcome: this.state.outcome,
      pass_at_1: this.metrics.pass_at_1,
      pass_at_k: this.metrics.pass_at_k,
      candidates: this.candidates.length,
      cost_usd: this.usage.costUsd,
      tokens: tokensUsed(this.usage),
      duration_ms: performance.now() - this.started,
      suite_reruns: this.checks?.reruns.suite ?? 0,
      flaky_reruns: this.checks?.reruns.flaky ?? 0,
    });
  }

  private async finish(): Promise<RunResult> {
    await this.save();
    if (this.merged) {
      const w = this.merged.winner;
      const chosen = `Candidate #${w.index + 1} by \`${w.agent.name}\`, chosen among ${this.candidates.length} by the bot's own checks.`;
      const summary = [w.summary?.trim() || chosen, this.docs].filter(Boolean).join('\n\n');
      return this.result({ outcome: 'success', commitSha: this.merged.sha, changedFiles: this.merged.files, guards: w.findings, summary });
    }
    if (this.signal.aborted) return this.result({ outcome: this.signalOutcome(), error: 'the pipeline was stopped' });
    const stopped = Object.values(this.state.phases).some((p) => p.status === 'stopped' && p.outcome === 'budget');
    const reason = this.failure ?? 'the pipeline ended without a change to publish';
    // A budget stop is the escalation's cue, as for a single run; the candidates stay in the store.
    if (stopped) return this.result({ outcome: 'token_limit', error: `the pipeline's budget ran out: ${reason}` });
    return this.result({ outcome: 'failed', error: reason, failure: { stage: 'pipeline', reason: publicReason(reason) } });
  }

  private signalOutcome(): 'timeout' | 'cancelled' {
    const reason: unknown = this.signal.reason;
    return typeof reason === 'object' && reason !== null && (reason as { name?: string }).name === 'TimeoutError' ? 'timeout' : 'cancelled';
  }

  private result(r: Partial<RunResult> & Pick<RunResult, 'outcome'>): RunResult {
    return { usage: { ...this.usage }, transcript: '', commitSha: null, changedFiles: [], guards: [], durationMs: performance.now() - this.started, ...r };
  }
}

const ok = (v: CheckVerdict): boolean => v === 'pass' || v === 'flaky' || v === 'skipped';

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/** What failed on a candidate, for the repair step's prompt (untrusted: it is quoted there). */
function failureText(c: Candidate): string {
  const notes = c.checks?.notes ?? {};
  return (['guards', 'oracle', 'suite', 'lint'] as const)
    .filter((g) => c.checks && !ok(c.checks[g]))
    .map((g) => `### ${g} failed\n${notes[g] ?? ''}`)
    .join('\n\n');
}

/** Why nothing was merged, from what the phases and candidates recorded. */
function noWinnerReason(candidates: readonly Candidate[], phases: ExecutionState['phases']): string {
  if (candidates.length === 0) return `no candidate was made${phases.implement?.note ? `: ${phases.implement.note}` : ''}`;
  const failed = candidates
    .map((c) => `#${c.index + 1} ${c.agent.name}: ${c.checks ? (['guards', 'oracle', 'suite', 'lint'] as const).filter((g) => !ok(c.checks![g])).join(', ') || 'passes' : c.outcome === 'success' ? 'no change' : c.outcome}`)
    .join('; ');
  return `no candidate passed the critical gates (${failed})`;
}

/** The issue's short reason: the bot's own words, agent names and gate names only. */
function publicReason(reason: string): string {
  return sanitizeName(reason, 300);
}

export type { Spec };
