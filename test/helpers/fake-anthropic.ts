/**
 * A small local fake of the Anthropic Messages API, so the real `claude` binary can run in
 * tests with no network. It streams SSE the way the real API does (`message_start`,
 * `content_block_start`/`delta`/`stop`, `message_delta` with usage, `message_stop`) and
 * follows a scripted behaviour for the agent's main loop (requests that offer tools).
 * Side calls Claude Code makes (titles, quota checks, count_tokens) get short answers, and
 * routes the fake does not know are recorded in `unknown` so a test can show them.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type FakeBehaviour =
  /**
   * One tool call that writes `content` to `filePath`, then a final text. A relative path is
   * resolved against the working directory Claude Code states in its system prompt.
   */
  | { kind: 'edit'; filePath: string; content: string; usage?: FakeUsage }
  /**
   * These tool calls, one per turn, in order (a relative `file_path` is resolved as for
   * `edit`), then a final text: e.g. a `Read` then an `Edit`, which Claude Code allows only
   * on a file it has read.
   */
  | { kind: 'calls'; calls: { name: string; input: Record<string, unknown> }[]; usage?: FakeUsage }
  /**
   * Two conversations at once, told apart by their system prompt: `then` answers the ones
   * whose system prompt contains `when` (a subagent's, say), `otherwise` the rest.
   */
  | { kind: 'route'; when: string; then: FakeBehaviour; otherwise: FakeBehaviour }
  /**
   * Never finishes: answers every turn with another tool call (by default `Bash` running
   * `echo still working`), with large usage.
   */
  | { kind: 'loop'; call?: { name: string; input: Record<string, unknown> }; usage?: FakeUsage };

export interface RecordedRequest {
  method: string;
  path: string;
  /** The JSON body, when there is one. */
  body: unknown;
  /** True when the request offered tools: the agent's main loop. */
  agentTurn: boolean;
}

export interface FakeAnthropic {
  /** `http://127.0.0.1:<port>`: what `ANTHROPIC_BASE_URL` should be. */
  url: string;
  requests: RecordedRequest[];
  /** `METHOD path` of every route the fake had no answer for. */
  unknown: string[];
  /** Number of main-loop turns answered so far. */
  agentTurns(): number;
  close(): Promise<void>;
}

const defaultUsage: FakeUsage = {
  input_tokens: 120,
  output_tokens: 30,
  cache_creation_input_tokens: 50,
  cache_read_input_tokens: 10,
};

const bigUsage: FakeUsage = {
  input_tokens: 40_000,
  output_tokens: 2_000,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

interface Reply {
  content: Block[];
  stop_reason: 'end_turn' | 'tool_use';
  usage: FakeUsage;
}

interface MessagesBody {
  model?: string;
  system?: unknown;
  stream?: boolean;
  tools?: { name?: string }[];
  messages?: { role?: string; content?: unknown }[];
}

const asMessagesBody = (v: unknown): MessagesBody =>
  typeof v === 'object' && v !== null ? (v as MessagesBody) : {};

/** Whether the last user message carries a tool_result (the agent ran our tool call). */
const lastIsToolResult = (body: MessagesBody): boolean => {
  const last = body.messages?.at(-1);
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return false;
  return last.content.some(
    (b: unknown) => typeof b === 'object' && b !== null && (b as { type?: unknown }).type === 'tool_result',
  );
};

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const sse = (res: ServerResponse, event: string, data: unknown): void => {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
};

let idSeq = 0;
const nextId = (prefix: string): string => `${prefix}_fake${String(++idSeq).padStart(6, '0')}`;

const sendStream = (res: ServerResponse, model: string, reply: Reply): void => {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': nextId('req'),
  });
  sse(res, 'message_start', {
    type: 'message_start',
    message: {
      id: nextId('msg'),
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...reply.usage, output_tokens: 1 },
    },
  });
  reply.content.forEach((block, index) => {
    if (block.type === 'text') {
      sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
    } else {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      sse(res, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: reply.stop_reason, stop_sequence: null },
    usage: { output_tokens: reply.usage.output_tokens },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
};

const sendJson = (res: ServerResponse, status: number, data: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': nextId('req') });
  res.end(JSON.stringify(data));
};

/** Claude Code tells the model its working directory in the system prompt's environment block. */
const workingDirectory = (body: MessagesBody): string | null => {
  const text = JSON.stringify(body.system ?? '').replace(/\\n/g, '\n');
  return /(?:Primary working directory|Working directory): *([^\n"<]+)/.exec(text)?.[1]?.trim() ?? null;
};

const resolveInCwd = (filePath: string, body: MessagesBody): string => {
  if (filePath.startsWith('/')) return filePath;
  const cwd = workingDirectory(body);
  if (!cwd) throw new Error('the request names no working directory to resolve a relative path against');
  return `${cwd.replace(/\/+$/, '')}/${filePath}`;
};

/** How many of our tool calls the agent has answered so far in this conversation. */
const toolResultsSoFar = (body: MessagesBody): number =>
  (body.messages ?? []).filter(
    (m) => m.role === 'user' && Array.isArray(m.content) && m.content.some((b: unknown) => (b as { type?: unknown } | null)?.type === 'tool_result'),
  ).length;

const agentReply = (behaviour: FakeBehaviour, body: MessagesBody): Reply => {
  if (behaviour.kind === 'route') {
    return agentReply(JSON.stringify(body.system ?? '').includes(behaviour.when) ? behaviour.then : behaviour.otherwise, body);
  }
  if (behaviour.kind === 'calls') {
    const usage = behaviour.usage ?? defaultUsage;
    const next = behaviour.calls[toolResultsSoFar(body)];
    if (!next) return { content: [{ type: 'text', text: 'Done: every step is taken.' }], stop_reason: 'end_turn', usage };
    const path = next.input.file_path;
    const input = typeof path === 'string' ? { ...next.input, file_path: resolveInCwd(path, body) } : next.input;
    return { content: [{ type: 'tool_use', id: nextId('toolu'), name: next.name, input }], stop_reason: 'tool_use', usage };
  }
  if (behaviour.kind === 'edit') {
    const usage = behaviour.usage ?? defaultUsage;
    if (lastIsToolResult(body)) {
      return { content: [{ type: 'text', text: 'Done: the file is written.' }], stop_reason: 'end_turn', usage };
    }
    return {
      content: [
        { type: 'text', text: 'I will write the file.' },
        {
          type: 'tool_use',
          id: nextId('toolu'),
          name: 'Write',
          input: { file_path: resolveInCwd(behaviour.filePath, body), content: behaviour.content },
        },
      ],
      stop_reason: 'tool_use',
      usage,
    };
  }
  return {
    content: [
      {
        type: 'tool_use',
        id: nextId('toolu'),
        ...(behaviour.call ?? { name: 'Bash', input: { command: 'echo still working', description: 'Keep working' } }),
      },
    ],
    stop_reason: 'tool_use',
    usage: behaviour.usage ?? bigUsage,
  };
};

/** Starts the fake on 127.0.0.1 with a random port. */
export const startFakeAnthropic = async (behaviour: FakeBehaviour): Promise<FakeAnthropic> => {
  const requests: RecordedRequest[] = [];
  const unknown: string[] = [];
  let turns = 0;

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      let body: unknown = undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const method = req.method ?? 'GET';
      const mb = asMessagesBody(body);
      const agentTurn = path === '/v1/messages' && (mb.tools?.length ?? 0) > 0;
      requests.push({ method, path, body, agentTurn });

      if (method === 'POST' && path === '/v1/messages/count_tokens') {
        sendJson(res, 200, { input_tokens: 100 });
        return;
      }
      if (method === 'POST' && path === '/v1/messages') {
        const model = mb.model ?? 'claude-fake';
        let reply: Reply;
        if (agentTurn) {
          turns += 1;
          reply = agentReply(behaviour, mb);
        } else {
          // Side calls (session titles, quota probes): a short, harmless text.
          reply = {
            content: [{ type: 'text', text: 'ok' }],
            stop_reason: 'end_turn',
            usage: { input_tokens: 5, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
          };
        }
        if (mb.stream) {
          sendStream(res, model, reply);
        } else {
          sendJson(res, 200, {
            id: nextId('msg'),
            type: 'message',
            role: 'assistant',
            model,
            content: reply.content,
            stop_reason: reply.stop_reason,
            stop_sequence: null,
            usage: reply.usage,
          });
        }
        return;
      }
      if (method === 'HEAD' && path === '/') {
        // Claude Code 2.1 probes the base URL once at start-up.
        res.writeHead(200);
        res.end();
        return;
      }
      if (method === 'GET' && path === '/v1/models') {
        sendJson(res, 200, { data: [], has_more: false, first_id: null, last_id: null });
        return;
      }
      unknown.push(`${method} ${path}`);
      process.stderr.write(`fake-anthropic: no route for ${method} ${path}\n`);
      sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `fake: no route ${path}` } });
    })().catch((err: unknown) => {
      unknown.push(`ERROR ${String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: 'fake failed' } });
      else res.end();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    unknown,
    agentTurns: () => turns,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

/**
 * The environment for the real `claude` binary against the fake: no user config (temp
 * HOME), no telemetry, no auto-update, no non-essential traffic.
 */
export const claudeTestEnv = (fakeUrl: string, home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  LANG: 'C.UTF-8',
  TMPDIR: process.env.TMPDIR ?? '/tmp',
  ANTHROPIC_BASE_URL: fakeUrl,
  ANTHROPIC_API_KEY: 'test-key',
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_AUTOUPDATER: '1',
  DISABLE_TELEMETRY: '1',
  DISABLE_ERROR_REPORTING: '1',
});
