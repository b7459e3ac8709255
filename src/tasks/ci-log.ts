/**
 * What of a failed CI job's log a fix run's prompt gets: the lines around the first error (the
 * cause, usually) and the tail (the summary, the exit), within a size cap. Pure.
 *
 * ```ts
 * ciLogExcerpt(trace, 12_000).text
 * // "[lines 210-251 of 4000, around the first error]\n...\n[... 3700 lines left out ...]\n[the last 40 lines]\n..."
 * ```
 *
 * Logs are cleaned of what a terminal draws but a reader does not see: ANSI escapes, GitLab's
 * `section_start:`/`section_end:` markers, carriage-return redraws, and the timestamp GitHub
 * puts before every line.
 */

export interface LogExcerpt {
  text: string;
  /** 1-based line of the first error, when one was recognised. */
  firstError: number | null;
  lines: number;
}

/** Words that start a failure in the usual tools' output (compilers, test runners, npm, pytest, go). */
const ERROR_LINE = /(^|[\s[(:])((error|errors|FAIL|FAILED|failed|fatal|exception|traceback|panic|assertionerror)\b|ERR!)/i;
/** Lines that mention failures without being one ("0 failed", "--fail-fast"). */
const NOT_AN_ERROR = /\b0 (failed|errors?)\b|\bfail-fast\b|\berror(s)?: 0\b/i;

const BEFORE = 10;
const AFTER = 30;

/** Strips what a terminal interprets; keeps what a reader sees. */
export function cleanLog(raw: string): string[] {
  return raw
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) =>
      line
        // A carriage return redraws the line: the last drawing is what stayed on screen.
        .split('\r')
        .filter((part) => part !== '')
        .at(-1) ?? '',
    )
    .map((line) =>
      dropControls(
        line
          .replace(CSI, '')
          .replace(OSC, '')
          .replace(/section_(start|end):\d+:[A-Za-z0-9_.-]+(\[[^\]]*\])?/g, '')
          .replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ?/, ''),
      ),
    );
}

// Built from the escape character, so the patterns hold no control character literally.
const ESC = String.fromCharCode(0x1b);
const BEL = String.fromCharCode(0x07);
/** ANSI control sequences (colours, cursor moves, GitLab's `ESC[0K`). */
const CSI = new RegExp(`${ESC}\\[[0-9;?]*[ -/]*[@-~]`, 'g');
/** Operating system commands (window titles, hyperlinks), ended by BEL or ESC \\. */
const OSC = new RegExp(`${ESC}\\][^${BEL}]*?(${BEL}|${ESC}\\\\)`, 'g');

/** Control characters other than the tab. */
const dropControls = (line: string): string =>
  [...line].filter((c) => {
    const code = c.charCodeAt(0);
    return code === 9 || (code >= 0x20 && code !== 0x7f);
  }).join('');

export function firstErrorLine(lines: readonly string[]): number | null {
  const i = lines.findIndex((l) => ERROR_LINE.test(l) && !NOT_AN_ERROR.test(l));
  return i < 0 ? null : i;
}

/** Joins lines, keeping at most `max` characters: from the start (`head`) or from the end. */
function fit(lines: readonly string[], max: number, from: 'head' | 'tail'): string[] {
  const out: string[] = [];
  let used = 0;
  const ordered = from === 'head' ? lines : [...lines].reverse();
  for (const line of ordered) {
    const cost = line.length + 1;
    if (used + cost > max) {
      if (out.length === 0) out.push(from === 'head' ? line.slice(0, max) : line.slice(-max));
      break;
    }
    out.push(line);
    used += cost;
  }
  return from === 'head' ? out : out.reverse();
}

export function ciLogExcerpt(raw: string, maxChars: number): LogExcerpt {
  const lines = cleanLog(raw);
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  const total = lines.length;
  const whole = lines.join('\n');
  const first = firstErrorLine(lines);
  if (whole.length <= maxChars) return { text: whole, firstError: first === null ? null : first + 1, lines: total };

  const budget = maxChars - 200; // room for the bracketed notes
  const tailBudget = first === null ? budget : Math.floor(budget / 2);
  const tail = fit(lines, tailBudget, 'tail');
  const tailStart = total - tail.length;
  const parts: string[] = [];
  if (first !== null && first < tailStart) {
    const start = Math.max(0, first - BEFORE);
    const end = Math.min(tailStart, first + AFTER + 1);
    const around = fit(lines.slice(start, end), budget - tailBudget, 'head');
    parts.push(`[lines ${start + 1}-${start + around.length} of ${total}, around the first error]`, ...around);
    const gap = tailStart - (start + around.length);
    if (gap > 0) parts.push(`[... ${gap} lines left out ...]`);
  } else if (tailStart > 0) {
    parts.push(`[... the first ${tailStart} lines left out ...]`);
  }
  parts.push(`[the last ${tail.length} lines]`, ...tail);
  return { text: parts.join('\n'), firstError: first === null ? null : first + 1, lines: total };
}
