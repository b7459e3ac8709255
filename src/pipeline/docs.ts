/**
 * The docs phase, pure: what the merge request says about how its change was chosen. The
 * acceptance criteria as a checklist with what verified each, the oracle test and its
 * verdicts before and after, a table of every candidate, why the winner won, and the
 * coverage of the changed lines when the repository has a coverage command. File names and
 * criteria come from agents and the issue: they are sanitized and code-quoted here, so none
 * of them can format the description.
 */
import parseDiff from 'parse-diff';
import { sanitizeName } from '../util/sanitize.js';
import type { Checks, CheckVerdict, ExecutionState, Spec } from './schemas.js';
import type { Selection } from './select.js';
import { diffLines } from './select.js';

export interface DocsCandidate {
  index: number;
  agent: { name: string };
  variant: string;
  outcome: string;
  patch: string | null;
  usage: { costUsd: number };
  checks: Checks | null;
}

export interface CoverageOfChange {
  /** Added lines the coverage report instruments, and how many of them ran. */
  instrumented: number;
  covered: number;
}

export interface DocsInput {
  spec: Spec | null;
  oracle: { files: string[]; command: string[] } | null;
  candidates: readonly DocsCandidate[];
  selection: Selection;
  winner: DocsCandidate;
  coverage: CoverageOfChange | null;
  state: Pick<ExecutionState, 'phases' | 'budget'>;
}

const code = (text: string): string => `\`${sanitizeName(text, 200).replace(/`/g, "'")}\``;
const cell = (text: string): string => sanitizeName(text, 200).replace(/\|/g, '\\|');

const mark: Record<CheckVerdict, string> = { pass: 'pass', fail: '**fail**', flaky: 'flaky', skipped: '—' };

export function renderDocs(input: DocsInput): string {
  const { spec, oracle, winner, selection } = input;
  const oracleOk = winner.checks?.oracle === 'pass';
  const suiteOk = winner.checks?.suite === 'pass' || winner.checks?.suite === 'flaky';
  const out: string[] = ['## How this change was chosen', ''];
  if (spec) {
    out.push('### Acceptance criteria', '');
    const by = oracle && oracleOk && suiteOk
      ? `the oracle test ${oracle.files.map(code).join(', ')} passes and the suite is no worse than on the base`
      : oracle
        ? 'not shown by the checks: check it by hand'
        : suiteOk
          ? 'the suite is no worse than on the base (no oracle test for this task): check it by hand'
          : 'not shown by the checks: check it by hand';
    const ticked = Boolean(oracle && oracleOk && suiteOk);
    for (const c of spec.acceptance) out.push(`- [${ticked ? 'x' : ' '}] ${cell(c.text)} — ${by}`);
    const source = spec.source === 'issue' ? "the issue's acceptance list" : spec.source === 'agent' ? 'the spec step' : 'the issue title';
    out.push('', `<sub>Criteria from ${source}. The bot cannot tell which criterion a test covers: a box is ticked when the oracle and the suite pass; read the oracle for what it checks.</sub>`, '');
  }
  if (oracle) {
    out.push(
      '### Oracle',
      '',
      `The test ${oracle.files.map(code).join(', ')} was written first, to reproduce the issue. The bot ran \`${oracle.command.map((a) => sanitizeName(a, 100)).join(' ')}\` itself:`,
      '',
      '| | result |',
      '|---|---|',
      '| base commit | fails (the issue is reproduced) |',
      `| this change | ${oracleOk ? 'passes' : '**fails**'} |`,
      '',
    );
  }
  out.push('### Candidates', '', '| # | agent | variant | run | oracle | suite | lint | guards | diff | cost |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const c of input.candidates) {
    const ch = c.checks;
    const star = c.index === winner.index ? ' ★' : '';
    out.push(
      `| ${c.index + 1}${star} | ${code(c.agent.name)} | ${cell(c.variant)} | ${cell(c.outcome)} | ${ch ? mark[ch.oracle] : '—'} | ${ch ? mark[ch.suite] : '—'} | ${ch ? mark[ch.lint] : '—'} | ${ch ? mark[ch.guards] : '—'} | ${c.patch ? `${diffLines(c.patch)} lines` : '—'} | $${c.usage.costUsd.toFixed(4)} |`,
    );
  }
  out.push('', `### Why #${winner.index + 1} won`, '', ...selection.reasons.map((r) => `- ${cell(r)}`), '');
  out.push('### Coverage of the changed lines', '');
  if (input.coverage && input.coverage.instrumented > 0) {
    const pct = (100 * input.coverage.covered) / input.coverage.instrumented;
    out.push(`${input.coverage.covered} of ${input.coverage.instrumented} changed lines the coverage report instruments ran under the tests (${pct.toFixed(1)}%).`);
  } else {
    out.push(input.coverage ? 'The coverage report instruments none of the changed lines.' : 'Not available: the repository has no coverage command with a report in the config.');
  }
  const { spent, total } = input.state.budget;
  out.push('', `<sub>Pipeline spend: ${spent.tokens.toLocaleString('en-US')} of ${total.tokens.toLocaleString('en-US')} tokens, $${spent.usd.toFixed(4)} of $${total.usd.toFixed(2)}.</sub>`);
  return out.join('\n');
}

/**
 * Of the lines a patch adds, how many an LCOV report instruments (`DA:<line>,<hits>`) and how
 * many of those ran. `root` strips absolute `SF:` paths down to repository paths.
 */
export function changedLineCoverage(lcov: string, patch: string, root = ''): CoverageOfChange {
  const hits = new Map<string, Map<number, number>>();
  let file: Map<number, number> | null = null;
  for (const line of lcov.split('\n')) {
    if (line.startsWith('SF:')) {
      let path = line.slice(3).trim();
      if (root && path.startsWith(`${root}/`)) path = path.slice(root.length + 1);
      file = new Map();
      hits.set(path, file);
    } else if (line.startsWith('DA:') && file) {
      const [n, count] = line.slice(3).split(',');
      file.set(Number(n), Number(count));
    }
  }
  let instrumented = 0;
  let covered = 0;
  for (const f of parseDiff(patch)) {
    const lines = f.to ? hits.get(f.to) : undefined;
    if (!lines) continue;
    for (const chunk of f.chunks) {
      for (const change of chunk.changes) {
        if (change.type !== 'add') continue;
        const count = lines.get(change.ln);
        if (count === undefined) continue;
        instrumented++;
        if (count > 0) covered++;
      }
    }
  }
  return { instrumented, covered };
}
