/** Test network policy: forge APIs only through nock, real sockets only to this machine. */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/** For the calling test file: no connection leaves 127.0.0.1 unless nock answers it. */
export function onlyLocalNetwork(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterAll(() => nock.enableNetConnect());
}

/**
 * For the calling test file: no network at all, and after each test every interceptor set up
 * must have been used (a forge call the code should have made, and did not, fails the test).
 */
export function strictForgeMocks(): void {
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending).toEqual([]);
  });
}
