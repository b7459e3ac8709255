import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptedRunnerConfig } from '../../src/runners/config.js';
import type { RunnerInput } from '../../src/runners/runner.js';
import { ScriptedRunner, scriptedUsage } from '../../src/runners/scripted.js';
import { makeWorkspace, type Workspace } from './workspace.js';

const patch = `diff --git a/greet.txt b/greet.txt
--- a/greet.txt
+++ b/greet.txt
@@ -1,2 +1,2 @@
-hello
+hello, world
 bye
diff --git a/src/new.ts b/src/new.ts
new file mode 100644
--- /dev/null
+++ b/src/new.ts
@@ -0,0 +1 @@
+export const answer = 42;
`;

let ws: Workspace | undefined;
afterEach(() => {
  ws?.cleanup();
  ws = undefined;
});

const input = (w: Workspace, over: Partial<RunnerInput> = {}): RunnerInput => ({
  workdir: w.workdir,
  prompt: 'the prompt',
  systemPrompt: '',
  toolsAllowed: [],
  maxTurns: 1,
  maxTokens: 100_000,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: w.home },
  signal: new AbortController().signal,
  ...over,
});

describe('ScriptedRunner', () => {
  it('applies a real patch in the worktree and reports its fixed usage', async () => {
    ws = makeWorkspace({ 'greet.txt': 'hello\nbye\n' });
    const runner = new ScriptedRunner(scriptedRunnerConfig.parse({ kind: 'scripted', patch }));
    const res = await runner.run(input(ws));
    expect(res.error).toBeUndefined();
    expect(res.outcome).toBe('success');
    expect(readFileSync(join(ws.workdir, 'greet.txt'), 'utf8')).toBe('hello, world\nbye\n');
    expect(readFileSync(join(ws.workdir, 'src/new.ts'), 'utf8')).toBe('export const answer = 42;\n');
    expect(res.usage).toEqual(scriptedUsage());
    const types = res.transcript.split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe('scripted');
    expect(types.at(-1)).toBe('result');
  });

  it('is deterministic: the same patch gives the same result and diff', async () => {
    const diffs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const w = makeWorkspace({ 'greet.txt': 'hello\nbye\n' });
      try {
        const res = await new ScriptedRunner(scriptedRunnerConfig.parse({ kind: 'scripted', patch })).run(input(w));
        expect(res.outcome).toBe('success');
        diffs.push(w.git('diff'));
      } finally {
        w.cleanup();
      }
    }
    expect(diffs[0]).toBe(diffs[1]);
  });

  it('fails when the patch does not apply, leaving the worktree untouched', async () => {
    ws = makeWorkspace({ 'greet.txt': 'something else\n' });
    const res = await new ScriptedRunner(scriptedRunnerConfig.parse({ kind: 'scripted', patch })).run(input(ws));
    expect(res.outcome).toBe('failed');
    expect(res.error).toMatch(/git apply exited with 1/);
    expect(ws.git('status', '--porcelain')).toBe('');
  });

  it('runs a script in the worktree with the prompt on stdin', async () => {
    ws = makeWorkspace();
    const script = [process.execPath, '-e', "require('fs').writeFileSync('out.txt', require('fs').readFileSync(0, 'utf8'))"];
    const res = await new ScriptedRunner(scriptedRunnerConfig.parse({ kind: 'scripted', script })).run(input(ws));
    expect(res.outcome).toBe('success');
    expect(readFileSync(join(ws.workdir, 'out.txt'), 'utf8')).toBe('the prompt');
  });

  it('honours the token budget against its fixed usage', async () => {
    ws = makeWorkspace();
    const res = await new ScriptedRunner(scriptedRunnerConfig.parse({ kind: 'scripted', script: ['true'] })).run(
      input(ws, { maxTokens: 10 }),
    );
    expect(res.outcome).toBe('token_limit');
  });
});
