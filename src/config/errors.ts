import type { z } from 'zod';
import { ExpectedError } from '../errors.js';

/** A configuration problem that stops start-up; its message names the file and the field. */
export class ConfigError extends ExpectedError {}

/** Formats zod issues as `<where>: <field.path>: <message>` lines. */
export function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${field}: ${issue.message}`;
    })
    .join('\n');
}
