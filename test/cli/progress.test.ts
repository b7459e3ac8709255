import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';

const sink = (isTTY: boolean) => {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (s: string) => (writes.push(s), true) } };
};

describe('createProgress', () => {
  it('on a terminal draws a spinner line and replaces it with ✓ or ✗', async () => {
    const { writes, stream } = sink(true);
    const progress = createProgress(stream);
    expect(await progress.step('the pipeline runs', async () => 42)).toBe(42);
    // The first frame is drawn at once; later ones come from a timer this test does not wait for.
    expect(writes[0]).toBe('\r\x1b[2K⠋ the pipeline runs');
    expect(writes.at(-1)).toBe('\r\x1b[2K✓ the pipeline runs\n');
    await expect(progress.step('review: merge', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(writes.at(-1)).toBe('\r\x1b[2K✗ review: merge\n');
  });

  it('elsewhere prints one plain line per step and overwrites nothing', async () => {
    const { writes, stream } = sink(false);
    const progress = createProgress(stream);
    await progress.step('the pipeline runs', async () => undefined);
    progress.line('branch doom/1-x');
    expect(writes).toEqual(['… the pipeline runs\n', 'branch doom/1-x\n']);
    expect(writes.join('')).not.toContain('\r');
  });
});
