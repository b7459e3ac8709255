/**
 * The local executor resuming kept work, against a real bare repository as the remote and the
 * scripted runner: a budget stop commits and pushes the agent's work, the next run starts from
 * the branch as the remote has it (a person's commit on top included, never overwritten), and a
 * branch that no longer holds the kept commit is not resumed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunRequest } from '../../src/executor/contract.js';
import { LocalExecutor } from '../../src/executor/local.js';
import { defaultPermissions, type RunnerConfig } from '../../src/runners/config.js';
import { git } from '../../src/workspace/git.js';
import { authorEnv, createRemote, tempDir, type Remote } from '../workspace/helpers.js';

let dir: { path: string; cleanup: () => Promise<void> };
let remote: Remote;
let executor: LocalExecutor;
const branch = 'doom/7-fix-it';

beforeEach(async () => {
  dir = await tempDir('doom-exec-');
  remote = await createRemote(dir.path);
  executor = new LocalExecutor({ mirrorDir: join(dir.path, 'mirrors'), workspaceDir: join(dir.path, 'ws'), mirrorDiskBudgetBytes: 1 << 30, capacity: 1 });
});
afterEach(() => dir.cleanup());

const appendNote = (text: string): RunnerConfig => ({
  kind: 'scripted',
  script: ['node', '-e', `const fs = require('fs'); console.log('saw: ' + (fs.existsSync('notes.txt') ? fs.readFileSync('notes.txt', 'utf8').trim().split('\\n').join(',') : '-')); fs.appendFileSync('notes.txt', ${JSON.stringify(text)})`],
});

function request(runner: RunnerConfig, options: { maxTokens?: number; maxUsd?: number; resume?: RunRequest['resume'] } = {}): RunRequest {
  return {
    runId: 1,
    task: { id: 7, type: 'bugfix', priority: 'medium', title: 'Fix it', description: 'It is broken.', tags: [], issueUrl: 'https://example.com/i/7', maxTokens: options.maxTokens ?? 100_000, maxUsd: options.maxUsd ?? null, timeoutMs: 60_000 },
    agent: { name: 'agent-a', tier: 'junior', systemPrompt: 'You fix bugs.', toolsAllowed: [], runner, permissions: defaultPermissions() },
    repository: { forge: 'local', fullName: 'o/r', cloneUrl: remote.bare, defaultBranch: 'main' },
    branch,
    resume: options.resume,
    credential: async () => ({ username: 'x', password: 'unused' }),
    author: { name: 'doom-rlvr[bot]', email: 'bot@doom.example' },
    policy: { protectedPaths: ['.github/workflows/**'], onProtectedChange: 'refuse' },
  };
}

/** A person clones the remote, commits on top of `ref` and pushes (a plain, fast-forward push). */
async function humanCommitOn(ref: string, file: string, content: string): Promise<string> {
  const work = join(dir.path, 'human');
  await git(['clone', '--quiet', '--branch', ref, remote.bare, work]);
  await writeFile(join(work, file), content);
  await git(['commit', '--quiet', '-am', 'a reviewer adds a line'], { cwd: work, env: authorEnv });
  await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${ref}`], { cwd: work });
  return git(['rev-parse', 'HEAD'], { cwd: work });
}

const run = (req: RunRequest) => executor.run(req, new AbortController().signal);
const subjects = () => git(['--git-dir', remote.bare, 'log', '--reverse', '--format=%an: %s', `main..${branch}`]);

describe('LocalExecutor: work kept on a budget stop', () => {
  it('pushes the stopped agent\'s work, and the next run continues on top of a person\'s commit without rewriting it', async () => {
    // The scripted runner reports 1,500 tokens: over a budget of 1,000.
    const stopped = await run(request(appendNote('first\n'), { maxTokens: 1000 }));
    expect(stopped).toMatchObject({ outcome: 'token_limit', commitSha: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(await git(['--git-dir', remote.bare, 'rev-parse', branch])).toBe(stopped.commitSha);

    const human = await humanCommitOn(branch, 'notes.txt', 'first\nhuman\n');
    const done = await run(request(appendNote('second\n'), { resume: { sha: stopped.commitSha!, stop: 'token_limit' } }));
    expect(done.outcome).toBe('success');
    expect(done.transcript).toContain('saw: first,human');
    expect(await git(['--git-dir', remote.bare, 'rev-parse', branch])).toBe(done.commitSha);
    expect(await git(['--git-dir', remote.bare, 'merge-base', '--is-ancestor', human, branch])).toBe('');
    expect((await subjects()).split('\n')).toEqual([
      'doom-rlvr[bot]: doom: work in progress, Fix it (task 7)',
      'Test Human: a reviewer adds a line',
      'doom-rlvr[bot]: doom: Fix it (task 7)',
    ]);
    expect(done.changedFiles).toEqual(['notes.txt']);
  });

  it('publishes the kept work as it stands when the resumed agent changes nothing', async () => {
    const stopped = await run(request(appendNote('first\n'), { maxTokens: 1000 }));
    const idle: RunnerConfig = { kind: 'scripted', script: ['node', '-e', ''] };
    const done = await run(request(idle, { resume: { sha: stopped.commitSha!, stop: 'token_limit' } }));
    expect(done).toMatchObject({ outcome: 'success', commitSha: stopped.commitSha, changedFiles: ['notes.txt'] });
  });

  it('keeps no work that touches a protected path, and guards what resumed work carries', async () => {
    const editsCi: RunnerConfig = {
      kind: 'scripted',
      script: ['node', '-e', `const fs = require('fs'); fs.mkdirSync('.github/workflows', { recursive: true }); fs.writeFileSync('.github/workflows/ci.yml', 'on: push')`],
    };
    const stopped = await run(request(editsCi, { maxTokens: 1000 }));
    expect(stopped).toMatchObject({ outcome: 'token_limit', commitSha: null });
    expect(stopped.error).toContain('its work could not be kept: the agent changed protected paths (.github/workflows/ci.yml)');
    await expect(git(['--git-dir', remote.bare, 'rev-parse', '--verify', '--quiet', branch])).rejects.toThrow();

    // Kept work is judged again with the next agent's: a protected file in the kept commit is
    // refused at publish even when the resumed agent itself only touches allowed files.
    const kept = await run({ ...request(editsCi, { maxTokens: 1000 }), policy: { protectedPaths: [], onProtectedChange: 'refuse' } });
    const done = await run(request(appendNote('fine\n'), { resume: { sha: kept.commitSha!, stop: 'token_limit' } }));
    expect(done).toMatchObject({ outcome: 'failed', commitSha: null, failure: { stage: 'guard', files: ['.github/workflows/ci.yml'] } });
  });

  it('starts from the default branch when the branch no longer holds the kept commit', async () => {
    const stopped = await run(request(appendNote('first\n'), { maxTokens: 1000 }));
    // Someone rewrote the branch from main since.
    await git(['--git-dir', remote.bare, 'update-ref', `refs/heads/${branch}`, 'refs/heads/main']);
    const done = await run(request(appendNote('fresh\n'), { resume: { sha: stopped.commitSha!, stop: 'token_limit' } }));
    expect(done.outcome).toBe('success');
    expect(done.transcript).toContain('saw: -');
    expect(await subjects()).toBe('doom-rlvr[bot]: doom: Fix it (task 7)');
  });
});

describe('LocalExecutor: the task\'s dollar budget', () => {
  // A command agent that changes a file and reports what it spent, as a wrapper script would.
  const spender = (usd: number): RunnerConfig => ({
    kind: 'command',
    argv: ['node', '-e', `require('fs').appendFileSync('notes.txt', 'x\\n'); require('fs').writeFileSync(process.argv[1], JSON.stringify({ input_tokens: 10, cost_usd: ${usd} }))`, '{usage_file}'],
    prompt_via: 'stdin',
  });

  it('reaches the runner: a run over the task\'s dollars stops as a budget stop, one within it succeeds', async () => {
    const over = await run(request(spender(0.5), { maxUsd: 0.1 }));
    expect(over).toMatchObject({ outcome: 'token_limit' });
    expect(over.error).toContain('over its budget of $0.1000');
    const within = await run({ ...request(spender(0.05), { maxUsd: 0.1 }), runId: 2 });
    expect(within.outcome).toBe('success');
  });
});
