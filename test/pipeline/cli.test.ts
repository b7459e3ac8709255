/**
 * The pipeline through the CLI: `doom assign` of a local task with `[pipeline] enabled`, then
 * `doom candidates`, `doom status` and `doom schema export`, on a real sample repository and
 * store, with the scripted agent (it applies the sample's fix, whatever the step).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { createSampleRepository, sampleCommands } from '../../src/forges/local/sample.js';
import { fails, ok, scrubEnvironment } from '../cli/harness.js';

scrubEnvironment();

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('doom with the pipeline on', () => {
  it('assigns and runs a local task through the pipeline, then shows its candidates and the metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'doom-pipeline-cli-'));
    dirs.push(dir);
    const repo = join(dir, 'repo');
    await mkdir(repo);
    const { fixPatch } = await createSampleRepository(repo);
    await mkdir(join(dir, 'config', 'agents'), { recursive: true });
    const config = join(dir, 'config', 'doom-rlvr.toml');
    await writeFile(
      config,
      stringify({
        executor: { mirror_dir: join(dir, 'mirrors'), workspace_dir: join(dir, 'ws') },
        repositories: { [repo]: { commands: sampleCommands } },
        // The scripted agent cannot write a test first: this policy goes straight to the candidates.
        pipeline: { enabled: true, policies: { P2: { tests_first: [] } } },
      }),
    );
    const patch = fixPatch.split('\n').map((l) => `      ${l}`).join('\n');
    await writeFile(
      join(dir, 'config', 'agents', 'agent-bugfix-junior.yml'),
      `agent:\n  name: agent-bugfix-junior\n  tier: junior\n  specializations: [bugfix]\n  context:\n    system_prompt: fix it\n  runner:\n    kind: scripted\n    patch: |\n${patch}\n`,
    );
    const cli = (...args: string[]) => ['--config', config, '--database', join(dir, 'doom.db'), ...args];
    await ok(...cli('agents', 'sync'));

    const out = await ok(...cli('assign', '--task', 'test-001', '--type', 'bugfix', '--repo', repo, '--description', 'add() subtracts'));
    expect(out).toMatch(/branch doom\/1-add-subtracts/);

    const table = await ok(...cli('candidates', 'test-001'));
    expect(table).toMatch(/^1\s+1\s+agent-bugfix-junior\s+implement\s+success\s+skipped\s+pass\s+pass\s+pass\s+2\s+\$0\.0081\s+1\s+[0-9a-f]{10}\s+winner$/m);
    expect(await fails(...cli('candidates', 'nope-1'))).toContain('task nope-1 does not exist');
    expect(await ok(...cli('status'))).toMatch(/^pipeline {3}1 executions, pass@1 100%, pass@k 100%/m);

    await ok(...cli('schema', 'export', '--out', join(dir, 'schemas')));
    expect((await readdir(join(dir, 'schemas'))).length).toBe(5);
  }, 120_000);
});
