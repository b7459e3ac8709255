/**
 * Reward-hacking guards end to end: a labeled issue through the real server, the local
 * executor with a scripted agent that edits the CI workflow in a real worktree, a real bare
 * repository as the remote, GitLab's API played by nock.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunnerConfig } from '../../src/runners/config.js';
import { git } from '../../src/workspace/git.js';
import { postGitLab, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { FakeGitLab } from '../helpers/gitlab-api.js';
import { labeledIssue } from '../helpers/issues.js';
import { onlyLocalNetwork } from '../helpers/network.js';
import { createRemote, tempDir, type Remote } from '../workspace/helpers.js';

/** An agent that "fixes" the build by switching the test job off, and fixes the greeting too. */
const cheater: RunnerConfig = {
  kind: 'scripted',
  script: [
    'node',
    '-e',
    [
      "const fs = require('fs');",
      "fs.writeFileSync('.github/workflows/ci.yml', 'on: push\\njobs:\\n  test:\\n    runs-on: ubuntu-latest\\n    steps:\\n      - run: exit 0\\n');",
      "fs.appendFileSync('README.md', '\\nFixed.\\n');",
    ].join(' '),
  ],
};

describe('guards: an agent that edits .github/workflows/ci.yml', () => {
  let app: TestApp | undefined;
  let remote: Remote;
  let dir: { path: string; cleanup: () => Promise<void> };
  let gitlab: FakeGitLab;

  onlyLocalNetwork();
  beforeEach(async () => {
    dir = await tempDir('doom-guards-');
    remote = await createRemote(dir.path);
    await remote.commit({ '.github/workflows/ci.yml': 'on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm test\n' });
    gitlab = new FakeGitLab().install();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    nock.cleanAll();
    await dir.cleanup();
  });

  const start = (mode: 'refuse' | 'flag') =>
    startTestApp({
      executor: 'local',
      tweak: (loaded) => {
        for (const a of loaded.agents) a.runner = cheater;
        loaded.config.policy.on_protected_change = mode;
      },
    });
  const task = async () => (await app!.store.db.selectFrom('tasks').selectAll().executeTakeFirst())!;
  const branches = () => git(['--git-dir', remote.bare, 'for-each-ref', '--format=%(refname)', 'refs/heads/']);

  it('refuse: the run fails naming the file, nothing is pushed, no MR is opened', async () => {
    app = await start('refuse');
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    await waitFor(async () => ((await task())?.status === 'failed' ? true : undefined), 'the task to fail');
    await app.runs.idle();

    const failed = await task();
    expect(failed.error_message).toBe('the agent changed protected files (`.github/workflows/ci.yml`), so nothing was pushed');
    expect(await branches()).toBe('refs/heads/main');
    expect(gitlab.made('POST', /merge_requests$/)).toEqual([]);
    const note = gitlab.notes.get('/api/v4/projects/1/issues/23/notes')![0]!.body;
    expect(note).toContain('Failed: the agent changed protected files (`.github/workflows/ci.yml`), so nothing was pushed.');
    expect(note).toContain(`doom logs --task ${failed.id}`);
    expect(note).not.toContain(dir.path);
    const [entry] = await app.store.db.selectFrom('audit_log').select('data').where('event', '=', 'task.failed').execute();
    expect(JSON.parse(entry!.data)).toMatchObject({ stage: 'guard', files: ['.github/workflows/ci.yml'] });
    const agent = await app.store.db.selectFrom('agents').select('failed_tasks').where('name', '=', failed.assigned_agent!).executeTakeFirstOrThrow();
    expect(agent.failed_tasks).toBe(1);
  });

  it('flag: the MR is opened, labeled doom:protected-change, and says so at its top', async () => {
    app = await start('flag');
    await postGitLab(app.url, 'Issue Hook', gitlab.issueFrom(labeledIssue(`file://${remote.bare}`)));
    const done = await waitFor(async () => ((await task())?.status === 'completed' ? task() : undefined), 'the task to complete');
    await app.runs.idle();

    expect(await git(['--git-dir', remote.bare, 'show', `${done.branch}:.github/workflows/ci.yml`])).toContain('exit 0');
    const [opened] = gitlab.made('POST', /merge_requests$/);
    expect(String(opened!.body.labels).split(',').sort()).toEqual(['doom:bot-authored', 'doom:protected-change']);
    const description = String(opened!.body.description);
    const top = description.split('\n').slice(0, 8).join('\n');
    expect(top).toContain('**Protected change.**');
    expect(top).toContain('`.github/workflows/ci.yml` is a protected path');
    expect(description.indexOf('Protected change')).toBeLessThan(description.indexOf('Closes #23'));
    const [entry] = await app.store.db.selectFrom('audit_log').select('data').where('event', '=', 'mr.opened').execute();
    expect(JSON.parse(entry!.data).guards).toEqual([{ kind: 'protected_path', file: '.github/workflows/ci.yml' }]);
  });
});
