/**
 * The bot as a child process for the kill-and-restart test. GitLab's API is played by nock
 * inside this process, with its state (the notes created so far) kept in a JSON-lines file
 * that survives the kill, as a real GitLab would.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import nock from 'nock';
import { startApp } from '../../src/app.js';
import { readEnvironment } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';

const stateFile = process.env.DOOM_TEST_API_LOG!;
const delayMs = Number(process.env.DOOM_TEST_API_DELAY_MS ?? '0');
// With a gate file named, GitLab holds every answer until that file exists (a GitLab that
// hangs), and notes each held request and its release in the log, so a test knows what is in hand.
const gate = process.env.DOOM_TEST_API_GATE;

type Callback = (error: Error | null, body: unknown) => void;
// nock takes a body function of exactly three parameters to be one that answers by callback.
function held(answer: (uri: string, body: unknown) => unknown) {
  return (uri: string, body: unknown, cb: Callback): void => {
    const reply = () => cb(null, answer(uri, body));
    if (!gate || existsSync(gate)) return reply();
    appendFileSync(stateFile, `${JSON.stringify({ method: 'HELD', path: uri })}\n`);
    const wait = setInterval(() => {
      if (!existsSync(gate)) return;
      clearInterval(wait);
      reply();
      appendFileSync(stateFile, `${JSON.stringify({ method: 'RELEASED', path: uri })}\n`);
    }, 10);
  };
}

interface Call {
  method: string;
  path: string;
  body?: string;
  id?: number;
}

const calls = (): Call[] =>
  existsSync(stateFile)
    ? readFileSync(stateFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Call)
    : [];

nock.disableNetConnect();
nock.enableNetConnect('127.0.0.1');
const api = nock(process.env.GITLAB_URL!).persist();
api
  .get(/\/api\/v4\/projects\/\d+\/issues\/\d+\/notes/)
  .delay(delayMs)
  .reply(
    200,
    held((uri: string) => {
      const path = uri.split('?')[0]!;
      return calls()
        .filter((c) => c.method === 'POST' && c.path === path)
        .map((c) => ({ id: c.id, body: c.body, system: false, noteable_type: 'Issue' }));
    }),
  );
// Every issue of the test is open and labeled as its hook says (doom, bug): the forge agrees.
api
  .get(/\/api\/v4\/projects\/\d+\/issues\/\d+$/)
  .reply(200, (uri) => {
    const iid = Number(uri.split('/').pop());
    return { id: 5000 + iid, iid, project_id: 1, state: 'opened', title: 'New API: create/update/delete file', description: '', labels: ['doom', 'bug'] };
  });
// The sender of GitLab's examples (root) is a Developer: the labels count.
api
  .get(/\/api\/v4\/projects\/\d+\/members\/all\/\d+$/)
  .reply(200, (uri) => ({ id: Number(uri.split('/').pop()), username: 'root', state: 'active', access_level: 30 }));
api
  .post(/\/api\/v4\/projects\/\d+\/issues\/\d+\/notes/)
  .delay(delayMs)
  .reply(
    201,
    held((uri: string, body: unknown) => {
      const id = calls().length + 1000;
      // GitLab has stored the note once it answers, whether or not the bot hears the answer.
      appendFileSync(stateFile, `${JSON.stringify({ method: 'POST', path: uri, body: (body as { body: string }).body, id })}\n`);
      return { id, body: (body as { body: string }).body, system: false, noteable_type: 'Issue' };
    }),
  );
api
  .put(/\/api\/v4\/projects\/\d+\/issues\/\d+(\/notes\/\d+)?$/)
  .delay(delayMs)
  .reply(
    200,
    held((uri: string, body: unknown) => {
      appendFileSync(stateFile, `${JSON.stringify({ method: 'PUT', path: uri })}\n`);
      const note = /notes\/(\d+)$/.exec(uri);
      return note ? { id: Number(note[1]), body: (body as { body: string }).body, system: false } : { id: 1, iid: 1 };
    }),
  );

const loaded = loadConfig(process.env.DOOM_CONFIG!);
loaded.config.inbox.poll_interval_ms = 20;
loaded.config.inbox.retry_base_ms = 5;
// Agents are not started here: this process is about the inbox.
const parked = { capacity: 0, run: () => Promise.reject(new Error('parked')) };
const app = await startApp({ env: readEnvironment(), loaded, log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), port: 0, executor: parked });
process.stdout.write(`READY ${app.url}\n`);
