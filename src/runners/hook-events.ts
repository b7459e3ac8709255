/**
 * The seed's `PostToolUse` hook events, read from a Claude Code stream-json transcript: one
 * per tool call, with what it touched and whether it failed. Pure: transcript in, events out.
 *
 * ```ts
 * toolUses(transcript) // [{ tool: 'Edit', tool_use_id: 'toolu_1', file: 'src/a.ts', status: 'success' }]
 * ```
 */
import { StreamJsonParser } from './stream-json.js';

export interface ToolUse {
  tool: string;
  tool_use_id: string;
  file?: string;
  command?: string;
  status: 'success' | 'error' | 'no_result';
}

const short = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

export function toolUses(transcript: string): ToolUse[] {
  const parser = new StreamJsonParser();
  const events = [...parser.push(transcript), ...parser.end()];
  const uses = new Map<string, ToolUse>();
  for (const ev of events) {
    if (ev.kind === 'assistant') {
      for (const block of ev.data.message.content) {
        if (block.type !== 'tool_use' || typeof block.id !== 'string') continue;
        const input = (block.input ?? {}) as Record<string, unknown>;
        const file = input.file_path ?? input.path ?? input.notebook_path;
        uses.set(block.id, {
          tool: typeof block.name === 'string' ? block.name : 'unknown',
          tool_use_id: block.id,
          ...(typeof file === 'string' ? { file } : {}),
          ...(typeof input.command === 'string' ? { command: short(input.command) } : {}),
          status: 'no_result',
        });
      }
    } else if (ev.kind === 'user') {
      const content = (ev.data as { message?: { content?: unknown } }).message?.content;
      if (!Array.isArray(content)) continue;
      for (const block of content as Record<string, unknown>[]) {
        const use = block.type === 'tool_result' && typeof block.tool_use_id === 'string' ? uses.get(block.tool_use_id) : undefined;
        if (use) use.status = block.is_error === true ? 'error' : 'success';
      }
    }
  }
  return [...uses.values()];
}
