/** Real git repositories on disk for the workspace tests, plus a smart-HTTP server. */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { git, gitEnv } from '../../src/workspace/git.js';

export const author = { name: 'Test Human', email: 'human@example.com' };
export const authorEnv = {
  GIT_AUTHOR_NAME: author.name,
  GIT_AUTHOR_EMAIL: author.email,
  GIT_COMMITTER_NAME: author.name,
  GIT_COMMITTER_EMAIL: author.email,
};

export async function tempDir(prefix = 'doom-ws-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A bare "forge" repository and a working clone used to push commits into it. */
export interface Remote {
  bare: string;
  /** Commits `files` on `branch` (default main) and pushes; returns the new sha. */
  commit(files: Record<string, string>, message?: string, branch?: string): Promise<string>;
  show(rev: string): Promise<string>;
}

export async function createRemote(dir: string, name = 'repo'): Promise<Remote> {
  const bare = join(dir, `${name}.git`);
  const work = join(dir, `${name}-seed`);
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  await git(['init', '--quiet', '--initial-branch=main', work]);
  let n = 0;
  const remote: Remote = {
    bare,
    async commit(files, message, branch = 'main') {
      const current = await git(['symbolic-ref', '--short', 'HEAD'], { cwd: work });
      if (current !== branch) {
        const known = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: work }).catch(() => '');
        await git(['checkout', '--quiet', ...(known ? [] : ['-b']), branch], { cwd: work });
      }
      for (const [file, content] of Object.entries(files)) {
        await mkdir(dirname(join(work, file)), { recursive: true });
        await writeFile(join(work, file), content);
      }
      await git(['add', '--all'], { cwd: work });
      await git(['commit', '--quiet', '-m', message ?? `commit ${++n}`], { cwd: work, env: authorEnv });
      await git(['push', '--quiet', '--force', bare, `HEAD:refs/heads/${branch}`], { cwd: work });
      return git(['rev-parse', 'HEAD'], { cwd: work });
    },
    show: (rev) => git(['--git-dir', bare, 'show', rev]),
  };
  await remote.commit({ 'README.md': '# hello\n', 'src/index.ts': 'export const x = 1;\n' }, 'initial');
  return remote;
}

/** Every regular file under `root`, recursively (following no symlinks). */
export async function allFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) out.push(p);
    }
  };
  await walk(root);
  return out;
}

/** Files under `root` whose bytes contain any of `needles`. */
export async function filesContaining(root: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const file of await allFiles(root)) {
    const bytes = await readFile(file);
    if (needles.some((n) => bytes.includes(Buffer.from(n)))) hits.push(file);
  }
  return hits;
}

export interface GitHttpServer {
  url: string;
  /** The Authorization header of each request, in order (undefined when absent). */
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

/**
 * Serves the repositories under `projectRoot` over smart HTTP through `git http-backend`,
 * answering 401 unless the request carries `Authorization: Basic <expected>`.
 */
export async function startGitHttpServer(projectRoot: string, expected: { username: string; password: string }): Promise<GitHttpServer> {
  const wanted = `Basic ${Buffer.from(`${expected.username}:${expected.password}`).toString('base64')}`;
  const authorizations: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== wanted) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' }).end('no');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const child = spawn('git', ['http-backend'], {
      env: {
        ...gitEnv(),
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REMOTE_USER: expected.username,
        REMOTE_ADDR: '127.0.0.1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: header(req.headers, 'content-type'),
        HTTP_CONTENT_ENCODING: header(req.headers, 'content-encoding'),
        GIT_PROTOCOL: header(req.headers, 'git-protocol'),
      },
    });
    req.pipe(child.stdin);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString('utf8');
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else if (k) headers[k] = v;
      }
      res.writeHead(status, headers).end(all.subarray(split + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}
