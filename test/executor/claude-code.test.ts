/**
 * The real `claude` binary as the agent of a real run: webhook in, Claude Code (against a
 * local fake of the Messages API) edits the worktree, the bot pushes and opens the merge
 * request, and the run's usage and cost are stored.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../src/executor/local.js';
import { git } from '../../src/workspace/git.js';
import { postGitLab, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { claudeTestEnv, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { createRemote, tempDir } from '../workspace/helpers.js';
import { onlyLocalNetwork } from '../helpers/network.js';

describe('a Claude Code run end to end', () => {
  let app: TestApp | undefined;
  let fake: FakeAnthropic | undefined;
  let dir: { path: string; cleanup: () => Promise<void> };

  onlyLocalNetwork();
  afterEach(async () => {
    await app?.close();
    await fake?.close();
    nock.cleanAll();
    await dir.cleanup();
  });

  it('edits the worktree through the real claude CLI and records usage and cost with the run', async () => {
    dir = await tempDir('doom-claude-');
    const remote = await createRemote(dir.path);
    const gitlab = new FakeGitLab().install();
    fake = await startFakeAnthropic({ kind: 'edit', filePath: 'src/greeting.ts', content: "export const greeting = 'hello';\n" });
    const executor = new LocalExecutor({
      mirrorDir: join(dir.path, 'mirrors'),
      workspaceDir: join(dir.path, 'workspaces'),
      mirrorDiskBudgetBytes: 1 << 30,
      capacity: 1,
      // The bot's own environment as the executor sees it: the fake API, plus secrets that
      // must not reach the agent.
      baseEnv: {
        ...claudeTestEnv(fake.url, mkdtempSync(join(tmpdir(), 'doom-home-'))),
        GITLAB_TOKEN: 'glpat-must-not-leak',
        WEBHOOK_SECRET: 'must-not-leak',
      },
    });
    // The shipped agent files, runner and all: only the executor's environment is the test's.
    app = await startTestApp({ executor });
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    const task = await waitFor(async () => {
      const t = await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst();
      return t && (t.status === 'completed' || t.status === 'failed') ? t : undefined;
    }, 'the Claude Code run to end', 3000);
    await app.runs.idle();

    expect(task).toMatchObject({ status: 'completed', assigned_agent: 'agent-bugfix-junior' });
    expect(await git(['--git-dir', remote.bare, 'show', `${task.branch}:src/greeting.ts`])).toBe("export const greeting = 'hello';");
    const [run] = await app.store.db.selectFrom('assignments').selectAll().execute();
    // The fake answers two turns of 120 input / 30 output / 50 cache-write / 10 cache-read tokens.
    expect(run).toMatchObject({ status: 'completed', outcome: 'success', input_tokens: 240, output_tokens: 60, cache_tokens: 120, turns: 2 });
    expect(run!.cost_usd).toBeGreaterThan(0);
    expect(run!.transcript).toContain('"type":"result"');
    expect(task.tokens_used).toBe(420);
    expect(gitlab.mergeRequests[0]!.description).toContain('Done: the file is written.');
    // The agent's requests carried no bot secret.
    expect(JSON.stringify(fake.requests)).not.toMatch(/must-not-leak/);
  });
});
