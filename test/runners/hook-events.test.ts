import { describe, expect, it } from 'vitest';
import { completionEvents } from '../../src/executor/hooks.js';
import { toolUses } from '../../src/runners/hook-events.js';
import type { RunRequest, RunResult } from '../../src/executor/contract.js';

/** Lines as Claude Code 2.1.197 printed them against the fake Messages API (shortened, same shapes). */
const transcript = [
  '{"type":"system","subtype":"init","cwd":"/tmp/w","session_id":"s1","tools":["Bash","Edit","Read","Write"]}',
  '{"type":"assistant","message":{"id":"msg_1","content":[{"type":"tool_use","id":"toolu_1","name":"Write","input":{"file_path":"/tmp/w/hello.txt","content":"hi\\n"}}]},"parent_tool_use_id":null}',
  '{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"File created successfully"}]},"parent_tool_use_id":null}',
  '{"type":"assistant","message":{"id":"msg_2","content":[{"type":"tool_use","id":"toolu_2","name":"Bash","input":{"command":"npm test"}}]},"parent_tool_use_id":null}',
  '{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_2","type":"tool_result","is_error":true,"content":"exit 1"}]},"parent_tool_use_id":null}',
  '{"type":"assistant","message":{"id":"msg_3","content":[{"type":"tool_use","id":"toolu_3","name":"Read","input":{"file_path":"a.ts"}}]},"parent_tool_use_id":null}',
  '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":3,"total_cost_usd":0.01}',
].join('\n');

describe('toolUses (PostToolUse from the stream)', () => {
  it('gives one event per tool call with what it touched and how it ended', () => {
    expect(toolUses(transcript)).toEqual([
      { tool: 'Write', tool_use_id: 'toolu_1', file: '/tmp/w/hello.txt', status: 'success' },
      { tool: 'Bash', tool_use_id: 'toolu_2', command: 'npm test', status: 'error' },
      { tool: 'Read', tool_use_id: 'toolu_3', file: 'a.ts', status: 'no_result' },
    ]);
  });

  it('finds none in a scripted transcript or garbage', () => {
    expect(toolUses('{"type":"scripted","action":"patch"}\nnot json\n')).toEqual([]);
  });
});

describe('completionEvents', () => {
  it('puts the tool uses before TaskComplete, all for the run', () => {
    const request = { runId: 4, task: { id: 9 }, agent: { name: 'agent-x' } } as unknown as RunRequest;
    const result: RunResult = {
      outcome: 'success',
      usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0.01, turns: 3 },
      transcript,
      commitSha: 'abc',
      changedFiles: ['hello.txt'],
      durationMs: 1234.4,
    };
    const events = completionEvents(request, result);
    expect(events.map((e) => e.type)).toEqual(['PostToolUse', 'PostToolUse', 'PostToolUse', 'TaskComplete']);
    expect(events.every((e) => e.taskId === 9 && e.runId === 4 && e.agentName === 'agent-x')).toBe(true);
    expect(events.at(-1)!.payload).toMatchObject({ outcome: 'success', commit: 'abc', tokens_used: 15, duration_ms: 1234 });
  });
});
