/**
 * The one way tests read the payloads in `test/fixtures/`: GitLab's documented webhook examples
 * (see `test/fixtures/gitlab/SOURCE.md`), with the `X-Gitlab-Event` header each is sent with;
 * and GitHub's, from `@octokit/webhooks-examples`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };

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

/** A webhook payload as tests edit it: loosely typed test data. */
export type GitHubExample = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test data

/** A fresh copy of the first published GitHub example of `event` that `pick` accepts. */
export function githubExample(event: string, pick: (e: GitHubExample) => boolean = () => true): GitHubExample {
  const group = (examples as { name: string; examples: GitHubExample[] }[]).find((e) => e.name === event);
  const found = group?.examples.find(pick);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}
