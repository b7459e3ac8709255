/**
 * The one way out of a sandboxed agent's network namespace: an HTTP proxy on a unix socket,
 * one per run, that forwards only to the hosts of that run's allow-list. Inside the sandbox
 * a socat bridge turns the socket into `127.0.0.1:3128`, and HTTP(S)_PROXY point there; with
 * the network namespace unshared there is no other route, so a tool that ignores the proxy
 * variables reaches nothing at all.
 *
 * Speaks the two forms every HTTP client uses through a proxy: `CONNECT host:port` (HTTPS, an
 * opaque tunnel: the agent's TLS goes end to end) and absolute-URI requests (`GET http://…`,
 * plain HTTP). Anything else is refused. Why not the sandbox runtime's proxy: see sandbox.ts.
 *
 * ```ts
 * const proxy = await startEgressProxy('/run/doom-x/proxy.sock', parseAllowList(['api.anthropic.com']));
 * // … run the sandbox, then:
 * await proxy.close();
 * ```
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** One allowed destination: a host name or IP, and a port (any of 80 and 443 when absent). */
export interface AllowedHost {
  host: string;
  port?: number;
}

const connectTimeoutMs = 15_000;

/** Host spelled one way: lower case, no IPv6 brackets, no trailing dot. */
export const canonicalHost = (host: string): string => host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');

/**
 * Pure: `host`, `host:port`, `[v6]:port` into allowed hosts. A bare host means its HTTPS and
 * HTTP ports (80, 443); a port given means that port only. Throws on a malformed entry.
 */
export const parseAllowList = (entries: readonly string[]): AllowedHost[] =>
  entries.map((entry) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(entry.trim());
    if (!m) throw new Error(`not a host or host:port: ${JSON.stringify(entry)}`);
    const port = m[2] === undefined ? undefined : Number(m[2]);
    if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`port out of range in ${JSON.stringify(entry)}`);
    return { host: canonicalHost(m[1] ?? ''), ...(port === undefined ? {} : { port }) };
  });

/** Pure: whether `host:port` is on the allow-list. */
export const isAllowed = (allow: readonly AllowedHost[], host: string, port: number): boolean => {
  const h = canonicalHost(host);
  return allow.some((a) => a.host === h && (a.port === undefined ? port === 80 || port === 443 : a.port === port));
};

/** `host:port` of a CONNECT target, or undefined when it is not one. */
const connectTarget = (target: string | undefined): { host: string; port: number } | undefined => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(target ?? '');
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: canonicalHost(m[1] ?? ''), port } : undefined;
};

export interface EgressProxy {
  /** Destinations refused so far (`host:port`), for the run's error message. */
  refused: string[];
  close(): Promise<void>;
}

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Starts the proxy on `socketPath` (which must not exist yet). */
export const startEgressProxy = async (socketPath: string, allow: readonly AllowedHost[]): Promise<EgressProxy> => {
  const refused: string[] = [];
  const sockets = new Set<Socket | Duplex>();
  const refuse = (host: string, port: number): void => {
    refused.push(`${host}:${port}`);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('doom sandbox: only absolute http:// URLs or CONNECT go through this proxy\n');
      return;
    }
    const port = Number(url.port || 80);
    if (url.protocol !== 'http:') {
      res.writeHead(400).end(`doom sandbox: ${url.protocol} is not proxied\n`);
      return;
    }
    if (!isAllowed(allow, url.hostname, port)) {
      refuse(canonicalHost(url.hostname), port);
      res.writeHead(403).end(`doom sandbox: ${canonicalHost(url.hostname)}:${port} is not on this agent's network allow-list\n`);
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !hopByHop.has(k.toLowerCase())));
    const upstream = httpRequest(
      { host: canonicalHost(url.hostname), port, method: req.method, path: `${url.pathname}${url.search}`, headers, timeout: connectTimeoutMs },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('doom sandbox: upstream unreachable\n');
      else res.destroy();
    });
    req.pipe(upstream);
  };

  const onConnect = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const target = connectTarget(req.url);
    if (!target) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    if (!isAllowed(allow, target.host, target.port)) {
      refuse(target.host, target.port);
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nnot on this agent\'s network allow-list\n');
      return;
    }
    const upstream = connect({ host: target.host, port: target.port, timeout: connectTimeoutMs });
    sockets.add(upstream);
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('timeout', () => upstream.destroy());
    upstream.once('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    upstream.once('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.once('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
  };

  const server = createServer(onRequest);
  server.on('connect', onConnect);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, s: Duplex) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
