/**
 * Errors and JSON validation shared by the report parsers. A report that cannot be read is a
 * CI configuration problem the team has to see, so parsers throw {@link ReportError} naming the
 * format and the offending field instead of scoring a broken report as "no findings".
 */
import type { z } from 'zod';

export type ReportFormat =
  | 'Coverage'
  | 'LCOV'
  | 'Cobertura'
  | 'Lint'
  | 'ESLint JSON'
  | 'Code Climate JSON'
  | 'SARIF'
  | 'GitLab SAST';

export class ReportError extends Error {
  override readonly name = 'ReportError';
  constructor(
    readonly format: ReportFormat,
    detail: string,
  ) {
    super(`${format} report: ${detail}`);
  }
}

/** JSON.parse with an error that names the format; an empty document is an error too. */
export function parseJsonReport(format: ReportFormat, text: string): unknown {
  if (text.trim() === '') throw new ReportError(format, 'the document is empty (expected JSON)');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ReportError(format, `not valid JSON (${(err as Error).message})`);
  }
}

/** zod validation whose failure lists the first few offending paths, e.g. `[0].messages[2].line`. */
export function validateReport<S extends z.ZodType>(
  format: ReportFormat,
  schema: S,
  value: unknown,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((i) => `${formatPath(i.path)}: ${i.message}`);
  const more = result.error.issues.length > 3 ? ` (+${result.error.issues.length - 3} more)` : '';
  throw new ReportError(format, `${issues.join('; ')}${more}`);
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join('');
}
