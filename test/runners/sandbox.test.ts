import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaudeCodeRunner } from '../../src/runners/claude-code.js';
import { CommandRunner } from '../../src/runners/command.js';
import { commandRunnerConfig } from '../../src/runners/config.js';
import { abortReasons, isAlive } from '../../src/runners/process.js';
import { absoluteForbidden, bwrapArgv, bwrapAvailable, sandboxArgv } from '../../src/runners/sandbox.js';
import { claudeTestEnv, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { makeWorkspace, processesIn, waitFor, type Workspace } from './workspace.js';

describe('bwrapArgv', () => {
  it('mounts / read-only, the workdir read-write, and hides forbidden paths', () => {
    const argv = bwrapArgv(['claude', '-p'], {
      workdir: '/w/tree',
      home: '/w/home',
      writable: ['/w/scratch'],
      forbidden: [
        { path: '/secrets', kind: 'dir' },
        { path: '/w/tree/.env', kind: 'file' },
        { path: '/nope', kind: 'missing' },
      ],
    });
    expect(argv).toEqual([
      'bwrap',
      '--die-with-parent',
      '--new-session',
      '--unshare-all',
      '--share-net',
      '--ro-bind', '/', '/',
      '--dev', '/dev',
      '--proc', '/proc',
      '--tmpfs', '/tmp',
      '--tmpfs', '/secrets',
      '--ro-bind', '/dev/null', '/w/tree/.env',
      '--tmpfs', '/w/home',
      '--bind', '/w/scratch', '/w/scratch',
      '--bind', '/w/tree', '/w/tree',
      '--chdir', '/w/tree',
      '--',
      'claude',
      '-p',
    ]);
  });

  it('mounts back what a networked process needs when /etc is forbidden', () => {
    const argv = bwrapArgv(['x'], { workdir: '/w', forbidden: [{ path: '/etc', kind: 'dir' }] });
    const i = argv.indexOf('/etc');
    expect(argv.slice(i - 1, i + 1)).toEqual(['--tmpfs', '/etc']);
    const after = argv.slice(i + 1).join(' ');
    expect(after).toContain('--ro-bind-try /etc/resolv.conf /etc/resolv.conf');
    expect(after).toContain('--ro-bind-try /etc/ssl /etc/ssl');
    expect(after).toContain('--ro-bind-try /etc/passwd /etc/passwd');
  });

  it('resolves forbidden paths against the workdir and both homes', () => {
    expect(absoluteForbidden('~/.ssh', '/w', ['/root', '/h'])).toEqual(['/root/.ssh', '/h/.ssh']);
    expect(absoluteForbidden('.env', '/w', ['/root'])).toEqual(['/w/.env']);
    expect(absoluteForbidden('/etc/', '/w', ['/root'])).toEqual(['/etc']);
  });

  it('leaves argv alone without a sandbox', async () => {
    expect(await sandboxArgv(['a', 'b'], { sandbox: 'none', forbiddenPaths: ['/etc'], workdir: '/w' })).toEqual(['a', 'b']);
  });
});

const hasBwrap = await bwrapAvailable();

describe.skipIf(!hasBwrap)('a real bwrap sandbox', () => {
  let ws: Workspace | undefined;
  let fake: FakeAnthropic | undefined;
  afterEach(async () => {
    await fake?.close();
    ws?.cleanup();
    ws = undefined;
    fake = undefined;
  });

  const probe = `
    const fs = require('fs');
    const tryDo = (f) => { try { f(); return 'ok'; } catch (e) { return e.code || String(e); } };
    const out = {
      workdir: tryDo(() => fs.writeFileSync('inside.txt', 'x')),
      usr: tryDo(() => fs.writeFileSync('/usr/doom-sandbox-probe', 'x')),
      scratchTmp: tryDo(() => fs.writeFileSync('/tmp/doom-probe', 'x')),
      secretDir: fs.readdirSync(process.argv[1]),
      secretFile: tryDo(() => { if (fs.readFileSync(process.argv[2], 'utf8') !== '') throw new Error('leaked'); }),
      home: fs.readdirSync(process.env.HOME),
      pid1: fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0')[0],
      processes: fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).length,
    };
    console.log(JSON.stringify(out));
  `;

  it('confines writes to the workdir and hides forbidden paths and HOME', async () => {
    ws = makeWorkspace();
    const root = dirname(ws.workdir);
    const secretDir = join(root, 'secret');
    mkdirSync(secretDir);
    writeFileSync(join(secretDir, 'key.pem'), 'PRIVATE');
    const secretFile = join(root, 'token.txt');
    writeFileSync(secretFile, 'TOKEN');
    writeFileSync(join(ws.home, '.netrc'), 'machine x password y');

    const runner = new CommandRunner(
      commandRunnerConfig.parse({ kind: 'command', argv: [process.execPath, '-e', probe, secretDir, secretFile], prompt_via: 'stdin' }),
      { permissions: { sandbox: 'bwrap', forbidden_paths: [secretDir, secretFile] } },
    );
    const res = await runner.run({
      workdir: ws.workdir,
      prompt: 'p',
      systemPrompt: '',
      toolsAllowed: [],
      maxTurns: 1,
      maxTokens: 1000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ws.home },
      signal: new AbortController().signal,
    });
    expect(res.error).toBeUndefined();
    const seen = JSON.parse(res.transcript.trim()) as Record<string, unknown>;
    expect(seen).toMatchObject({
      workdir: 'ok',
      usr: 'EROFS',
      scratchTmp: 'ok',
      secretDir: [],
      // /dev/null bound on a nodev mount: the file cannot even be opened.
      secretFile: 'EACCES',
      home: [],
    });
    // Its own PID namespace: bwrap is pid 1 and only a handful of processes are visible.
    expect(seen.pid1).toBe('bwrap');
    expect(seen.processes).toBeLessThan(6);
    expect(readFileSync(join(ws.workdir, 'inside.txt'), 'utf8')).toBe('x');
    // The bot's files are untouched and still there outside the sandbox.
    expect(readFileSync(join(ws.home, '.netrc'), 'utf8')).toContain('machine');
  });

  it('runs the real claude inside the sandbox, and a timeout leaves nothing running', async () => {
    ws = makeWorkspace();
    const target = join(ws.workdir, 'hello.txt');
    fake = await startFakeAnthropic({ kind: 'edit', filePath: target, content: 'sandboxed\n' });
    const permissions = { sandbox: 'bwrap' as const, forbidden_paths: ['/etc', '~/.ssh'] };
    const input = (f: FakeAnthropic, w: Workspace, signal: AbortSignal) => ({
      workdir: w.workdir,
      prompt: 'Write hello.txt',
      systemPrompt: '',
      toolsAllowed: ['Read', 'Edit', 'Bash'],
      maxTurns: 50,
      maxTokens: 10_000_000,
      env: claudeTestEnv(f.url, w.home),
      signal,
    });
    const ok = await new ClaudeCodeRunner({ permissions }).run(input(fake, ws, new AbortController().signal));
    expect(ok.error).toBeUndefined();
    expect(ok.outcome).toBe('success');
    expect(readFileSync(target, 'utf8')).toBe('sandboxed\n');
    await fake.close();

    fake = await startFakeAnthropic({ kind: 'loop', call: { name: 'Bash', input: { command: 'sleep 300' } } });
    const controller = new AbortController();
    const pids: number[] = [];
    const running = new ClaudeCodeRunner({ permissions, onSpawn: (p) => pids.push(p), killGraceMs: 1000 }).run(
      input(fake, ws, controller.signal),
    );
    const w = ws;
    await waitFor(() => processesIn(w.workdir).length >= 3);
    controller.abort(abortReasons.timeout());
    const res = await running;
    expect(res.outcome).toBe('timeout');
    expect(isAlive(pids[0] as number)).toBe(false);
    expect(processesIn(w.workdir)).toEqual([]);
  });
});
