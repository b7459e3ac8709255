/**
 * Telling the findings an MR introduced from the ones it inherited. Head and base reports are
 * compared by identity (file, rule, fingerprint or message) and count, never by line: any edit
 * above a finding moves it, and a line-based diff would blame the agent for old problems.
 */
import { normalizeChangedFiles } from './paths.js';

/** What {@link newFindings} needs of a finding; lint and security findings both have it. */
export interface MatchableFinding {
  /** Repo-relative POSIX path. */
  file: string;
  /** 1-based; 0 when the tool gave none. */
  line: number;
  rule: string;
  message?: string;
  /** The tool's stable identity for the finding, when it has one (Code Climate, SARIF). */
  fingerprint?: string;
}

/**
 * Findings of `head` in `changedFiles` that the base does not account for. For each identity
 * (file, rule, fingerprint-or-message), the first `baseCount` head findings are taken as
 * inherited, preferring those on a line the base also had; the rest are new. Fingerprints are
 * used only when every finding on both sides has one, since a tool upgrade that starts
 * emitting them must not make every old finding look new.
 */
export function newFindings<F extends MatchableFinding>(
  head: readonly F[],
  base: readonly MatchableFinding[],
  changedFiles: readonly string[],
): F[] {
  const changed = normalizeChangedFiles(changedFiles);
  const useFingerprints = [...head, ...base].every((f) => f.fingerprint !== undefined && f.fingerprint !== '');
  const keyOf = (f: MatchableFinding): string =>
    JSON.stringify([f.file, f.rule, useFingerprints ? f.fingerprint : (f.message ?? '')]);

  const baseLines = new Map<string, number[]>();
  for (const f of base) {
    if (!changed.has(f.file)) continue;
    const k = keyOf(f);
    const list = baseLines.get(k) ?? [];
    list.push(f.line);
    baseLines.set(k, list);
  }

  const groups = new Map<string, F[]>();
  for (const f of head) {
    if (!changed.has(f.file)) continue;
    const k = keyOf(f);
    const list = groups.get(k) ?? [];
    list.push(f);
    groups.set(k, list);
  }

  const fresh = new Set<F>();
  for (const [k, list] of groups) {
    const lines = baseLines.get(k) ?? [];
    let inherited = lines.length;
    if (inherited >= list.length) continue;
    const sameLine = new Map<number, number>();
    for (const l of lines) sameLine.set(l, (sameLine.get(l) ?? 0) + 1);
    const sorted = [...list].sort((a, b) => a.line - b.line);
    const rest: F[] = [];
    for (const f of sorted) {
      const left = sameLine.get(f.line) ?? 0;
      if (inherited > 0 && left > 0) {
        inherited--;
        sameLine.set(f.line, left - 1);
      } else {
        rest.push(f);
      }
    }
    for (const f of rest.slice(inherited)) fresh.add(f);
  }
  // Keep the head report's order so results read like the report.
  return head.filter((f) => fresh.has(f));
}
