import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaudeCodeRunner } from '../../src/runners/claude-code.js';
import { CommandRunner } from '../../src/runners/command.js';
import { commandRunnerConfig, permissionsConfig } from '../../src/runners/config.js';
import { agentEnv } from '../../src/runners/env.js';
import { abortReasons, isAlive } from '../../src/runners/process.js';
import {
  absoluteForbidden,
  bridgeScript,
  bwrapArgv,
  bwrapAvailable,
  diagnoseSandbox,
  modelHost,
  openSandbox,
  sandboxEnv,
  type ProbeFacts,
} from '../../src/runners/sandbox.js';
import { claudeTestEnv, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { makeWorkspace, processesIn, waitFor, type Workspace } from './workspace.js';

describe('bwrapArgv', () => {
  const spec = {
    workdir: '/w/tree',
    home: '/w/home',
    writable: ['/w/scratch'],
    readOnly: [
      { path: '/usr', kind: 'dir' as const },
      { path: '/bin', kind: 'symlink' as const, target: 'usr/bin' },
    ],
    masked: [
      { path: '/usr/secrets', kind: 'dir' as const },
      { path: '/w/tree/.env', kind: 'file' as const },
      { path: '/data', kind: 'dir' as const },
      { path: '/nope', kind: 'missing' as const },
    ],
    egressDir: '/tmp/doom-egress-1',
  };

  it('shows only the toolchain read-only and the worktree, with no network but the bridge', () => {
    const argv = bwrapArgv(['claude', '-p'], spec);
    const script = bridgeScript('socat');
    expect(argv).toEqual([
      'bwrap',
      '--die-with-parent',
      '--new-session',
      '--unshare-all',
      '--ro-bind', '/usr', '/usr',
      '--symlink', 'usr/bin', '/bin',
      '--dev', '/dev',
      '--proc', '/proc',
      '--tmpfs', '/tmp',
      '--tmpfs', '/run',
      '--ro-bind', '/tmp/doom-egress-1', '/run/doom-egress',
      '--tmpfs', '/w/home',
      '--bind', '/w/scratch', '/w/scratch',
      '--bind', '/w/tree', '/w/tree',
      // Masks come after every bind, and only where a mounted tree would show them.
      '--tmpfs', '/usr/secrets',
      '--ro-bind', '/dev/null', '/w/tree/.env',
      '--chdir', '/w/tree',
      '--',
      '/bin/sh', '-c', script, 'doom-sandbox',
      'claude',
      '-p',
    ]);
    expect(argv).not.toContain('--share-net');
    // argv reaches the agent through "$@": the shell never parses it.
    expect(script.trim().endsWith('exec "$@"')).toBe(true);
  });

  it('mounts back what a process needs when /etc is forbidden', () => {
    const argv = bwrapArgv(['x'], { ...spec, readOnly: [{ path: '/etc', kind: 'dir' }], masked: [{ path: '/etc', kind: 'dir' }] });
    const i = argv.lastIndexOf('/etc');
    expect(argv.slice(i - 1, i + 1)).toEqual(['--tmpfs', '/etc']);
    const after = argv.slice(i + 1).join(' ');
    expect(after).toContain('--ro-bind-try /etc/ssl /etc/ssl');
    expect(after).toContain('--ro-bind-try /etc/passwd /etc/passwd');
  });

  it('resolves forbidden paths against the workdir and both homes', () => {
    expect(absoluteForbidden('~/.ssh', '/w', ['/root', '/h'])).toEqual(['/root/.ssh', '/h/.ssh']);
    expect(absoluteForbidden('.env', '/w', ['/root'])).toEqual(['/w/.env']);
    expect(absoluteForbidden('/etc/', '/w', ['/root'])).toEqual(['/etc']);
  });

  it('leaves argv and env alone without a sandbox', async () => {
    const box = await openSandbox(['a', 'b'], { sandbox: 'none', forbiddenPaths: ['/etc'], workdir: '/w', env: { HOME: '/h' } });
    expect(box.argv).toEqual(['a', 'b']);
    expect(box.env).toEqual({ HOME: '/h' });
  });

  it('points every HTTP client at the bridge and drops NO_PROXY', () => {
    expect(sandboxEnv({ PATH: '/usr/bin', NO_PROXY: '127.0.0.1', https_proxy: 'http://corp:8080', ANTHROPIC_API_KEY: 'k' })).toEqual({
      PATH: '/usr/bin',
      ANTHROPIC_API_KEY: 'k',
      HTTP_PROXY: 'http://127.0.0.1:3128',
      HTTPS_PROXY: 'http://127.0.0.1:3128',
      http_proxy: 'http://127.0.0.1:3128',
      https_proxy: 'http://127.0.0.1:3128',
    });
  });

  it('allows the model API host from ANTHROPIC_BASE_URL, else Anthropic\'s', () => {
    expect(modelHost({})).toEqual({ host: 'api.anthropic.com', port: 443 });
    expect(modelHost({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:4000' })).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(modelHost({ ANTHROPIC_BASE_URL: 'https://llm.corp.example/v1' })).toEqual({ host: 'llm.corp.example', port: 443 });
    expect(() => modelHost({ ANTHROPIC_BASE_URL: 'not a url' })).toThrow(/ANTHROPIC_BASE_URL is not a URL/);
  });
});

describe('diagnoseSandbox', () => {
  const works = { binary: 'x' };
  const facts = (over: Partial<ProbeFacts>): ProbeFacts => ({ bwrap: works, socat: works, sysctl: {}, ...over });
  it.each([
    ['nothing wrong', facts({}), undefined],
    ['no bwrap', facts({ bwrap: { binary: 'bwrap', error: { code: 'ENOENT', stderr: '' } } }), /bubblewrap \(bwrap\) is not installed.*apt-get install bubblewrap socat/],
    ['no socat', facts({ socat: { binary: 'socat', error: { code: 'ENOENT', stderr: '' } } }), /socat \(socat\) is not installed.*apt-get install bubblewrap socat/],
    [
      'Debian userns off',
      facts({ bwrap: { binary: 'bwrap', error: { stderr: 'bwrap: No permissions to creating new namespace' } }, sysctl: { unprivilegedUsernsClone: '0' } }),
      /user namespaces are off.*sysctl -w kernel.unprivileged_userns_clone=1/,
    ],
    [
      'no namespaces allowed',
      facts({ bwrap: { binary: 'bwrap', error: { stderr: 'bwrap: setting up uid map: Permission denied' } }, sysctl: { maxUserNamespaces: '0' } }),
      /sysctl -w user.max_user_namespaces=15000/,
    ],
    [
      'Ubuntu AppArmor',
      facts({ bwrap: { binary: 'bwrap', error: { stderr: 'bwrap: loopback: Failed RTM_NEWADDR' } }, sysctl: { apparmorRestrictUserns: '1' } }),
      /kernel.apparmor_restrict_unprivileged_userns=0/,
    ],
    ['another bwrap failure', facts({ bwrap: { binary: 'bwrap', error: { stderr: 'bwrap: Creating new namespace failed' } } }), /Creating new namespace failed.*unprivileged_userns_clone/],
  ])('%s', (_name, f, expected) => {
    const err = diagnoseSandbox(f);
    if (expected === undefined) expect(err).toBeUndefined();
    else expect(err?.message).toMatch(expected);
  });
});

const hasBwrap = await bwrapAvailable();

describe.skipIf(!hasBwrap)('a real bwrap sandbox', () => {
  let ws: Workspace | undefined;
  let fake: FakeAnthropic | undefined;
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) s.close();
    await fake?.close();
    ws?.cleanup();
    ws = undefined;
    fake = undefined;
  });

  /** Runs in the sandbox: every attempt to reach the bot, as the agent would make it. */
  const probe = `
    const fs = require('fs');
    const http = require('http');
    const net = require('net');
    const [botPid, botHome, dataDir, allowedUrl, forbiddenUrl, forbiddenPort] = process.argv.slice(1);
    const tryDo = (f) => { try { f(); return 'ok'; } catch (e) { return e.code || String(e); } };
    // Through HTTP_PROXY, as a proxy-aware client does (Node's own http ignores the variable).
    const proxy = new URL(process.env.HTTP_PROXY);
    const get = (url) => new Promise((done) => {
      http.get({ host: proxy.hostname, port: proxy.port, path: url, headers: { host: new URL(url).host } }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => done(res.statusCode + ' ' + b.trim())); })
        .on('error', (e) => done(e.code || String(e)));
    });
    const direct = (port) => new Promise((done) => {
      const s = net.connect({ host: '127.0.0.1', port: Number(port) }, () => { s.destroy(); done('connected'); });
      s.on('error', (e) => done(e.code || String(e)));
    });
    (async () => {
      const environs = fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n))
        .map((n) => { try { return fs.readFileSync('/proc/' + n + '/environ', 'utf8'); } catch { return ''; } });
      const out = {
        botEnviron: tryDo(() => fs.readFileSync('/proc/' + botPid + '/environ')),
        secretInAnyEnviron: environs.some((e) => e.includes('must-not-leak')),
        sshDir: tryDo(() => fs.readdirSync(botHome + '/.ssh')),
        agentSsh: tryDo(() => fs.readdirSync(process.env.HOME + '/.ssh')),
        store: tryDo(() => fs.readFileSync(dataDir + '/doom.db')),
        mirrors: tryDo(() => fs.readdirSync(dataDir + '/mirrors')),
        workdir: tryDo(() => fs.writeFileSync('inside.txt', 'x')),
        usr: tryDo(() => fs.writeFileSync('/usr/doom-sandbox-probe', 'x')),
        scratchTmp: tryDo(() => fs.writeFileSync('/tmp/doom-probe', 'x')),
        allowed: await get(allowedUrl),
        forbiddenViaProxy: await get(forbiddenUrl),
        forbiddenDirect: await direct(forbiddenPort),
        pid1: fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0')[0],
      };
      console.log(JSON.stringify(out));
    })();
  `;

  const listen = (body: string): Promise<Server> =>
    new Promise((done) => {
      const s = createServer((_req, res) => res.end(body));
      s.listen(0, '127.0.0.1', () => done(s));
    });
  const portOf = (s: Server): number => (s.address() as AddressInfo).port;

  it('shows the agent none of the bot: environ, ~/.ssh, data directory, and no host off its allow-list', async () => {
    ws = makeWorkspace();
    const root = dirname(ws.workdir);
    // The bot's data directory, as `doom serve` lays it out: the store and the mirror cache.
    const dataDir = join(root, 'data');
    mkdirSync(join(dataDir, 'mirrors', 'github.com-o-r.git'), { recursive: true });
    writeFileSync(join(dataDir, 'doom.db'), 'SQLite format 3');
    // The bot's own HOME, with a key in it (a stand-in: the real one is not the test's to write).
    const botHome = join(root, 'bot-home');
    mkdirSync(join(botHome, '.ssh'), { recursive: true });
    writeFileSync(join(botHome, '.ssh', 'id_ed25519'), 'PRIVATE');
    mkdirSync(join(ws.home, '.ssh'));
    writeFileSync(join(ws.home, '.ssh', 'id_rsa'), 'PRIVATE');
    const allowed = await listen('allowed');
    const forbidden = await listen('forbidden');
    servers.push(allowed, forbidden);

    const runner = new CommandRunner(
      commandRunnerConfig.parse({
        kind: 'command',
        argv: [
          process.execPath,
          '-e',
          probe,
          String(process.pid),
          botHome,
          dataDir,
          `http://127.0.0.1:${portOf(allowed)}/`,
          `http://127.0.0.1:${portOf(forbidden)}/`,
          String(portOf(forbidden)),
        ],
        prompt_via: 'stdin',
      }),
      {
        permissions: permissionsConfig.parse({ network: { allow: [`127.0.0.1:${portOf(allowed)}`] } }),
        sandbox: { hidden: [dataDir] },
      },
    );
    // The bot's environment, secrets and all, through the same allow-list the executor uses.
    const botEnv = { ...process.env, HOME: botHome, GITLAB_TOKEN: 'must-not-leak', PRIVATE_KEY: 'must-not-leak', DATABASE_URL: 'must-not-leak' };
    const res = await runner.run({
      workdir: ws.workdir,
      prompt: 'p',
      systemPrompt: '',
      toolsAllowed: [],
      maxTurns: 1,
      maxTokens: 1000,
      env: agentEnv(botEnv, { HOME: ws.home }),
      signal: new AbortController().signal,
    });
    expect(res.error).toBeUndefined();
    const seen = JSON.parse(res.transcript.trim()) as Record<string, unknown>;
    expect(seen).toEqual({
      botEnviron: 'ENOENT',
      secretInAnyEnviron: false,
      sshDir: 'ENOENT',
      agentSsh: 'ENOENT',
      store: 'ENOENT',
      mirrors: 'ENOENT',
      workdir: 'ok',
      usr: 'EROFS',
      scratchTmp: 'ok',
      allowed: '200 allowed',
      forbiddenViaProxy: expect.stringMatching(/^403 doom sandbox: 127\.0\.0\.1:\d+ is not on this agent's network allow-list/),
      forbiddenDirect: 'ECONNREFUSED',
      // Its own PID namespace: bwrap is pid 1.
      pid1: 'bwrap',
    });
    expect(readFileSync(join(ws.workdir, 'inside.txt'), 'utf8')).toBe('x');
    // The bot's files are untouched and still there outside the sandbox.
    expect(readFileSync(join(ws.home, '.ssh', 'id_rsa'), 'utf8')).toBe('PRIVATE');
    expect(existsSync(join(dataDir, 'doom.db'))).toBe(true);
  });

  it('fails the run with the fix when bubblewrap or socat is missing, and never runs the agent', async () => {
    ws = makeWorkspace();
    const marker = join(ws.workdir, 'ran.txt');
    const argv = [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`];
    const input = {
      workdir: ws.workdir,
      prompt: 'p',
      systemPrompt: '',
      toolsAllowed: [],
      maxTurns: 1,
      maxTokens: 1000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ws.home },
      signal: new AbortController().signal,
    };
    const config = commandRunnerConfig.parse({ kind: 'command', argv, prompt_via: 'stdin' });
    const noBwrap = await new CommandRunner(config, { sandbox: { binaries: { bwrap: join(ws.home, 'no-such-bwrap') } } }).run(input);
    expect(noBwrap.outcome).toBe('failed');
    expect(noBwrap.error).toMatch(/the agent sandbox cannot start: bubblewrap \(.*no-such-bwrap\) is not installed; fix: apt-get install bubblewrap socat/);
    const noSocat = await new CommandRunner(config, { sandbox: { binaries: { socat: join(ws.home, 'no-such-socat') } } }).run(input);
    expect(noSocat.error).toMatch(/socat \(.*no-such-socat\) is not installed; fix: apt-get install bubblewrap socat/);
    expect(existsSync(marker)).toBe(false);
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
