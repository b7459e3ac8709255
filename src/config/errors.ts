import type { z } from 'zod';

/** A configuration problem that stops start-up; its message names the file and the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Formats zod issues as `<where>: <field.path>: <message>` lines. */
export function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${field}: ${issue.message}`;
    })
    .join('\n');
}
