import { describe, expect, it } from 'vitest';
import { StreamJsonParser, type StreamEvent } from '../../src/runners/stream-json.js';

/** Lines as Claude Code 2.1.197 printed them against the fake (shortened, same shapes). */
const lines = [
  '{"type":"system","subtype":"init","cwd":"/tmp/w","session_id":"s1","tools":["Bash","Edit","Read","Write"],"model":"claude-opus-4-8[1m]","permissionMode":"dontAsk","claude_code_version":"2.1.197"}',
  '{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-8","content":[{"type":"text","text":"I will write the file."}],"stop_reason":null,"usage":{"input_tokens":120,"output_tokens":1,"cache_creation_input_tokens":50,"cache_read_input_tokens":10}},"parent_tool_use_id":null,"session_id":"s1"}',
  '{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-8","content":[{"type":"tool_use","id":"toolu_1","name":"Write","input":{"file_path":"/tmp/w/hello.txt","content":"hi\\n"}}],"stop_reason":null,"usage":{"input_tokens":120,"output_tokens":1,"cache_creation_input_tokens":50,"cache_read_input_tokens":10}},"parent_tool_use_id":null,"session_id":"s1"}',
  '{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"File created successfully at: /tmp/w/hello.txt"}]},"parent_tool_use_id":null,"session_id":"s1"}',
  '{"type":"assistant","message":{"id":"msg_2","type":"message","role":"assistant","content":[{"type":"text","text":"Done."}],"usage":{"input_tokens":120,"output_tokens":1,"cache_creation_input_tokens":50,"cache_read_input_tokens":10}},"parent_tool_use_id":null,"session_id":"s1"}',
  '{"type":"result","subtype":"success","is_error":false,"duration_ms":213,"num_turns":2,"result":"Done.","session_id":"s1","total_cost_usd":0.003335,"usage":{"input_tokens":240,"cache_creation_input_tokens":100,"cache_read_input_tokens":20,"output_tokens":60,"server_tool_use":{"web_search_requests":0}},"permission_denials":[],"terminal_reason":"completed"}',
];

const feedInPieces = (parser: StreamJsonParser, text: string, size: number): StreamEvent[] => {
  const out: StreamEvent[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
  out.push(...parser.end());
  return out;
};

describe('StreamJsonParser', () => {
  it('yields one event per line whatever the chunking', () => {
    const text = `${lines.join('\n')}\n`;
    for (const size of [1, 7, 64, 100_000]) {
      const events = feedInPieces(new StreamJsonParser(), text, size);
      expect(events.map((e) => e.kind)).toEqual(['system', 'assistant', 'assistant', 'user', 'assistant', 'result']);
      expect(events.map((e) => e.line)).toEqual(lines);
    }
  });

  it('counts usage once per message id while running, then takes the result totals', () => {
    const p = new StreamJsonParser();
    p.push(`${lines[0]}\n${lines[1]}\n${lines[2]}\n`);
    expect(p.usage).toEqual({ inputTokens: 120, outputTokens: 1, cacheCreationTokens: 50, cacheReadTokens: 10, costUsd: 0, turns: 1 });
    p.push(`${lines[3]}\n${lines[4]}\n`);
    expect(p.usage).toMatchObject({ inputTokens: 240, cacheCreationTokens: 100, cacheReadTokens: 20, turns: 2 });
    expect(p.result).toBeUndefined();
    p.push(`${lines[5]}\n`);
    expect(p.usage).toEqual({ inputTokens: 240, outputTokens: 60, cacheCreationTokens: 100, cacheReadTokens: 20, costUsd: 0.003335, turns: 2 });
    expect(p.result?.data).toMatchObject({ subtype: 'success', is_error: false, num_turns: 2 });
  });

  it('does not count subagent messages as turns, but counts their tokens', () => {
    const p = new StreamJsonParser();
    p.push(
      '{"type":"assistant","message":{"id":"m1","content":[],"usage":{"input_tokens":10,"output_tokens":2}},"parent_tool_use_id":null}\n' +
        '{"type":"assistant","message":{"id":"m2","content":[],"usage":{"input_tokens":5,"output_tokens":1}},"parent_tool_use_id":"toolu_9"}\n',
    );
    expect(p.usage).toMatchObject({ inputTokens: 15, outputTokens: 3, turns: 1 });
  });

  it('lets unknown types, odd shapes and non-JSON lines through', () => {
    const p = new StreamJsonParser();
    const events = p.push(
      '{"type":"system","subtype":"hook_response","hook":"x"}\n' +
        '{"type":"stream_event","event":{"type":"message_start"}}\n' +
        '{"type":"assistant","message":"not an object"}\n' +
        'Warning: something printed to stdout\n' +
        '\n' +
        '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":"three","errors":["Reached maximum number of turns (3)"]}',
    );
    expect(events.map((e) => e.kind)).toEqual(['system', 'other', 'other', 'invalid']);
    const last = p.end();
    expect(last.map((e) => e.kind)).toEqual(['result']);
    expect(p.result?.data).toMatchObject({ subtype: 'error_max_turns', is_error: true, num_turns: 0, errors: ['Reached maximum number of turns (3)'] });
  });

  it('handles CRLF line ends', () => {
    const p = new StreamJsonParser();
    expect(p.push(`${lines[0]}\r\n`).map((e) => e.kind)).toEqual(['system']);
  });
});
