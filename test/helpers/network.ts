/** Test network policy: forge APIs only through nock, real sockets only to this machine. */
import nock from 'nock';
import { afterAll, beforeAll } from 'vitest';

/** For the calling test file: no connection leaves 127.0.0.1 unless nock answers it. */
export function onlyLocalNetwork(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterAll(() => nock.enableNetConnect());
}
