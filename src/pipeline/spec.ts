/**
 * The spec phase's inputs, pure: acceptance criteria from the issue's YAML block
 * (`acceptance:`, beside the seed's `task:` keys) or, when it has none, from what the spec
 * step's agent wrote. Either way the result is validated against the `Spec` schema.
 *
 * ```ts
 * const spec = specFromIssue(issue.body) ?? specFromAgent(await readFile('ACCEPTANCE.md')) ?? specFromTitle(task.title);
 * ```
 */
import { parse as parseYaml } from 'yaml';
import { extractTaskBlock } from '../tasks/intake.js';
import { sanitizeName } from '../util/sanitize.js';
import { Spec } from './schemas.js';

/** The file the spec step asks its agent to write, at the top of its worktree (never committed). */
export const ACCEPTANCE_FILE = 'ACCEPTANCE.md';

const MAX_CRITERIA = 20;

const criteria = (texts: readonly string[], source: Spec['source']): Spec | null => {
  const clean = texts.map((t) => sanitizeName(t, 500)).filter((t) => t !== '').slice(0, MAX_CRITERIA);
  if (clean.length === 0) return null;
  return Spec.parse({ source, acceptance: clean.map((text, i) => ({ id: `AC${i + 1}`, text })) });
};

/** The `acceptance:` list of the issue's task block, or null when there is none. */
export function specFromIssue(body: string): Spec | null {
  const { block } = extractTaskBlock(body);
  if (block === null) return null;
  let data: unknown;
  try {
    data = parseYaml(block);
  } catch {
    return null;
  }
  const list = (data as { task?: { acceptance?: unknown } } | null)?.task?.acceptance;
  return Array.isArray(list) ? criteria(list.filter((x): x is string => typeof x === 'string'), 'issue') : null;
}

/** The `- ` (or `* `, `1. `) items of what the spec step wrote, or null when it wrote none. */
export function specFromAgent(text: string | null): Spec | null {
  if (text === null) return null;
  const items = text.split('\n').map((l) => /^\s*(?:[-*]|\d+[.)])\s+(?:\[[ x]\]\s*)?(.+)$/.exec(l)?.[1] ?? '');
  return criteria(items, 'agent');
}

/** The last resort: the issue's title is the one criterion. */
export const specFromTitle = (title: string): Spec => criteria([title || 'the issue is resolved'], 'title')!;
