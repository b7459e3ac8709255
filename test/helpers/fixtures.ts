/**
 * The one way tests read the payloads in `test/fixtures/`: GitLab's documented webhook examples
 * (see `test/fixtures/gitlab/SOURCE.md`), with the `X-Gitlab-Event` header each is sent with.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GITLAB_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/gitlab');

/**
 * A fresh copy of one GitLab example payload, e.g. `gitlabFixture('issue-hook.json')`. Loosely
 * typed on purpose, as `JSON.parse` is: tests edit the payloads freely before sending them.
 */
export function gitlabFixture(file: string): ReturnType<typeof JSON.parse> {
  return JSON.parse(readFileSync(join(GITLAB_FIXTURES, file), 'utf8'));
}

/** The names of every GitLab example payload. */
export function gitlabFixtureFiles(): string[] {
  return readdirSync(GITLAB_FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** `X-Gitlab-Event` of each fixture, from the `| file.json | \`Header\` | …` rows of HEADERS.md. */
export function gitlabFixtureHeaders(): Map<string, string> {
  const text = readFileSync(join(GITLAB_FIXTURES, 'HEADERS.md'), 'utf8');
  return new Map([...text.matchAll(/^\| ([\w-]+\.json) \| `([^`]+)` \|/gm)].map((m) => [m[1]!, m[2]!]));
}
