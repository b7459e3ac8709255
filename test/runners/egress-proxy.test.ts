import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAllowed, parseAllowList, startEgressProxy, type EgressProxy } from '../../src/runners/egress-proxy.js';

describe('the allow-list', () => {
  const allow = parseAllowList(['registry.npmjs.org', 'API.Anthropic.com.', '127.0.0.1:4000', '[::1]:8080']);

  it.each([
    ['registry.npmjs.org', 443, true],
    ['registry.npmjs.org', 80, true],
    ['registry.npmjs.org', 22, false],
    ['api.anthropic.com', 443, true],
    ['evil.registry.npmjs.org', 443, false],
    ['127.0.0.1', 4000, true],
    ['127.0.0.1', 4001, false],
    ['[::1]', 8080, true],
    ['169.254.169.254', 80, false],
  ])('%s:%i → %s', (host, port, expected) => {
    expect(isAllowed(allow, host, port)).toBe(expected);
  });

  it('refuses what is not a host', () => {
    expect(() => parseAllowList(['https://x.org'])).toThrow(/not a host or host:port/);
    expect(() => parseAllowList(['x.org:70000'])).toThrow(/port out of range/);
  });
});

describe('the egress proxy, over its unix socket', () => {
  let dir: string;
  let proxy: EgressProxy | undefined;
  let upstream: Server | undefined;
  afterEach(async () => {
    await proxy?.close();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one raw request to the proxy and returns what it answered first. */
  const ask = (socket: string, text: string): Promise<string> =>
    new Promise((done, fail) => {
      const s = connect(socket, () => s.write(text));
      let got = '';
      s.on('data', (c) => {
        got += c.toString();
        if (got.includes('\r\n\r\n')) {
          s.destroy();
          done(got);
        }
      });
      s.on('error', fail);
      s.on('close', () => done(got));
    });

  it('tunnels CONNECT to an allowed host, refuses another, and records the refusal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'doom-egress-test-'));
    upstream = createServer((_q, r) => r.end('hi'));
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', () => r()));
    const port = (upstream.address() as AddressInfo).port;
    const socket = join(dir, 'proxy.sock');
    proxy = await startEgressProxy(socket, parseAllowList([`127.0.0.1:${port}`]));
    expect(await ask(socket, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200/);
    expect(await ask(socket, `CONNECT 127.0.0.1:${port + 1} HTTP/1.1\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403/);
    expect(await ask(socket, `GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403/);
    expect(await ask(socket, `GET /relative HTTP/1.1\r\nHost: x\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400/);
    expect(proxy.refused).toEqual([`127.0.0.1:${port + 1}`, 'example.org:80']);
  });
});
