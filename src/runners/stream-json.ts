/**
 * Incremental parser of Claude Code's `--output-format stream-json --verbose` output: one
 * JSON object per line. Pure (no I/O): feed it chunks as they arrive, get events back, and
 * read the running Usage at any time, so a run can be stopped the moment it passes its
 * token budget rather than after it ends.
 *
 * Shapes seen from Claude Code 2.1.197:
 * - `{"type":"system","subtype":"init","session_id","model","tools":[…],…}`
 * - `{"type":"assistant","message":{"id","content":[one block],"usage":{…}},"parent_tool_use_id"}`:
 *   one line per content block, every line of a message repeating the same `message.id` and
 *   the usage of its `message_start` (so usage is counted once per message id).
 * - `{"type":"user","message":{"content":[{"type":"tool_result",…}]}}`
 * - `{"type":"result","subtype":"success"|"error_max_turns"|…,"is_error","num_turns",
 *   "total_cost_usd","usage":{…},"result","errors"?,"permission_denials":[…]}`: the
 *   authoritative totals, last line of a run.
 * Anything else (hook events, retries, new types) passes through as `other`.
 */
import { z } from 'zod';
import { emptyUsage, type Usage } from './runner.js';

const count = z.number().nonnegative().catch(0).default(0);

const apiUsage = z.looseObject({
  input_tokens: count,
  output_tokens: count,
  cache_creation_input_tokens: count,
  cache_read_input_tokens: count,
});
type ApiUsage = z.infer<typeof apiUsage>;

const systemLine = z.looseObject({
  type: z.literal('system'),
  subtype: z.string().optional(),
  session_id: z.string().optional(),
  model: z.string().optional(),
  tools: z.array(z.string()).optional(),
});

const contentBlock = z.looseObject({ type: z.string() });

const assistantLine = z.looseObject({
  type: z.literal('assistant'),
  message: z.looseObject({
    id: z.string().optional(),
    content: z.array(contentBlock).catch([]).default([]),
    usage: apiUsage.optional(),
  }),
  parent_tool_use_id: z.string().nullable().optional(),
});

const userLine = z.looseObject({ type: z.literal('user') });

const resultLine = z.looseObject({
  type: z.literal('result'),
  subtype: z.string().catch('unknown').default('unknown'),
  is_error: z.boolean().catch(false).default(false),
  num_turns: count,
  total_cost_usd: count,
  usage: apiUsage.optional(),
  result: z.string().optional(),
  errors: z.array(z.string()).catch([]).optional(),
  permission_denials: z.array(z.unknown()).catch([]).optional(),
});

export type SystemEvent = { kind: 'system'; line: string; data: z.infer<typeof systemLine> };
export type AssistantEvent = { kind: 'assistant'; line: string; data: z.infer<typeof assistantLine> };
export type UserEvent = { kind: 'user'; line: string; data: z.infer<typeof userLine> };
export type ResultEvent = { kind: 'result'; line: string; data: z.infer<typeof resultLine> };
/** A JSON object of a type this parser does not model (or whose shape did not fit). */
export type OtherEvent = { kind: 'other'; line: string; data: unknown };
/** A line that is not JSON at all (a warning printed to stdout, a truncated last line). */
export type InvalidEvent = { kind: 'invalid'; line: string };

export type StreamEvent = SystemEvent | AssistantEvent | UserEvent | ResultEvent | OtherEvent | InvalidEvent;

const classify = (line: string): StreamEvent => {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { kind: 'invalid', line };
  }
  const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  const parsers = { system: systemLine, assistant: assistantLine, user: userLine, result: resultLine } as const;
  if (type === 'system' || type === 'assistant' || type === 'user' || type === 'result') {
    const r = parsers[type].safeParse(json);
    // The casts pair each kind with the schema just used, which TypeScript cannot follow.
    if (r.success) return { kind: type, line, data: r.data } as StreamEvent;
  }
  return { kind: 'other', line, data: json };
};

const sumUsage = (us: Iterable<ApiUsage>): Omit<Usage, 'costUsd' | 'turns'> => {
  const t = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 };
  for (const u of us) {
    t.inputTokens += u.input_tokens;
    t.outputTokens += u.output_tokens;
    t.cacheReadTokens += u.cache_read_input_tokens;
    t.cacheCreationTokens += u.cache_creation_input_tokens;
  }
  return t;
};

const maxUsage = (a: ApiUsage, b: ApiUsage): ApiUsage => ({
  input_tokens: Math.max(a.input_tokens, b.input_tokens),
  output_tokens: Math.max(a.output_tokens, b.output_tokens),
  cache_creation_input_tokens: Math.max(a.cache_creation_input_tokens, b.cache_creation_input_tokens),
  cache_read_input_tokens: Math.max(a.cache_read_input_tokens, b.cache_read_input_tokens),
});

export class StreamJsonParser {
  private buffer = '';
  private readonly perMessage = new Map<string, ApiUsage>();
  private readonly mainTurns = new Set<string>();
  private anonymous = 0;
  private final: ResultEvent | undefined;
  private current: Usage = emptyUsage();

  /** Feeds a chunk of stdout; returns the events of every line it completed. */
  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop() ?? '';
    return this.take(parts);
  }

  /** Flushes a last line that had no newline (the stream ended). */
  end(): StreamEvent[] {
    const rest = this.buffer;
    this.buffer = '';
    return this.take([rest]);
  }

  /** Usage so far: summed per assistant message while running, the `result` totals once it came. */
  get usage(): Usage {
    return { ...this.current };
  }

  /** The final `result` event, once seen. */
  get result(): ResultEvent | undefined {
    return this.final;
  }

  private take(lines: string[]): StreamEvent[] {
    const events: StreamEvent[] = [];
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '') continue;
      const ev = classify(line);
      this.account(ev);
      events.push(ev);
    }
    return events;
  }

  private account(ev: StreamEvent): void {
    if (ev.kind === 'assistant') {
      const msg = ev.data.message;
      const id = msg.id ?? `anonymous-${++this.anonymous}`;
      if (msg.usage) {
        const seen = this.perMessage.get(id);
        this.perMessage.set(id, seen ? maxUsage(seen, msg.usage) : msg.usage);
      }
      if (!ev.data.parent_tool_use_id) this.mainTurns.add(id);
      if (!this.final) {
        this.current = { ...sumUsage(this.perMessage.values()), costUsd: 0, turns: this.mainTurns.size };
      }
    } else if (ev.kind === 'result') {
      this.final = ev;
      const totals = ev.data.usage ? sumUsage([ev.data.usage]) : sumUsage(this.perMessage.values());
      this.current = {
        ...totals,
        costUsd: ev.data.total_cost_usd,
        turns: ev.data.num_turns || this.mainTurns.size,
      };
    }
  }
}
