import { describe, expect, it } from 'vitest';
import { isStoreUnreachableError, probeDelay, StoreHealth, type StoreHealthState } from '../../src/store/health.js';
import { waitFor } from '../helpers/app.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isStoreUnreachableError', () => {
  const cases: [string, unknown, boolean][] = [
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), true],
    ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET'), true],
    ['a host that does not resolve', withCode('getaddrinfo ENOTFOUND db', 'ENOTFOUND'), true],
    ['every address refused (Node 20 happy eyeballs)', new AggregateError([withCode('x', 'ECONNREFUSED')], ''), true],
    ['node-postgres losing its socket', new Error('Connection terminated unexpectedly'), true],
    ['a client already broken', new Error('Client has encountered a connection error and is not queryable'), true],
    ['the pool giving up on connecting', new Error('timeout exceeded when trying to connect'), true],
    ['admin_shutdown', withCode('terminating connection due to administrator command', '57P01'), true],
    ['cannot_connect_now', withCode('the database system is starting up', '57P03'), true],
    ['connection_failure (class 08)', withCode('connection failure', '08006'), true],
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505'), false],
    ['a syntax error', withCode('syntax error at or near "selec"', '42601'), false],
    ['SQLite busy (another writer, not an outage)', withCode('database is locked', 'SQLITE_BUSY'), false],
    ['a plain error', new Error('boom'), false],
    ['not an error', 'ECONNREFUSED', false],
  ];
  it.each(cases)('%s → %s', (_name, error, expected) => {
    expect(isStoreUnreachableError(error)).toBe(expected);
  });
});

describe('probeDelay', () => {
  it.each([
    [0, 100],
    [1, 200],
    [4, 1_600],
    [5, 2_000],
    [1_000, 2_000],
  ])('probe %i waits %i ms', (attempt, expected) => {
    expect(probeDelay(attempt, { initialMs: 100, maxMs: 2_000 })).toBe(expected);
  });
});

describe('StoreHealth', () => {
  /** A store that answers while `up` is true; the probe is the real function the class calls. */
  function store() {
    const s = { up: true, probes: 0 };
    const health = new StoreHealth({
      probe: async () => {
        s.probes++;
        if (!s.up) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      },
      backoff: { initialMs: 1, maxMs: 5 },
    });
    return { s, health };
  }

  it('goes unreachable on a lost connection, keeps the latest reason, and comes back only through a probe', async () => {
    const { s, health } = store();
    const seen: StoreHealthState[] = [];
    health.onChange((state) => seen.push(state));
    s.up = false;
    health.lost(new Error('Connection terminated unexpectedly'));
    expect(health.current()).toMatchObject({ reachable: false, reason: 'Connection terminated unexpectedly' });
    await waitFor(async () => s.probes >= 2, 'the prober to try again');
    expect(health.current()).toMatchObject({ reachable: false, reason: 'connect ECONNREFUSED 127.0.0.1:1' });

    const back = health.whenReachable();
    s.up = true;
    await back;
    expect(health.current()).toEqual({ reachable: true });
    // One change each way, however many probes failed in between.
    expect(seen.map((x) => x.reachable)).toEqual([false, true]);
    health.close();
  });

  it('ignores errors that are not about reaching the store', () => {
    const { health } = store();
    expect(health.observe(withCode('duplicate key', '23505'))).toBe(false);
    expect(health.current()).toEqual({ reachable: true });
    expect(health.observe(withCode('connect ECONNREFUSED', 'ECONNREFUSED'))).toBe(true);
    expect(health.current().reachable).toBe(false);
    health.close();
  });

  it('check() asks the store: an outage nobody has hit yet is found, and a return is seen at once', async () => {
    const { s, health } = store();
    expect(await health.check()).toEqual({ reachable: true });
    s.up = false;
    expect(await health.check()).toMatchObject({ reachable: false, reason: 'connect ECONNREFUSED 127.0.0.1:1' });
    s.up = true;
    expect(await health.check()).toEqual({ reachable: true });
    health.close();
  });

  it('whenReachable() gives up when its signal aborts', async () => {
    const { s, health } = store();
    s.up = false;
    health.lost(new Error('Connection terminated unexpectedly'));
    const controller = new AbortController();
    const waiting = health.whenReachable(controller.signal);
    controller.abort();
    await waiting;
    expect(health.current().reachable).toBe(false);
    health.close();
  });
});
