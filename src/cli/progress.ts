/**
 * Progress for long CLI commands: on a terminal a spinner line that is replaced by its
 * result; elsewhere (a pipe, CI, a test) one plain line per step, nothing overwritten.
 */
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Progress {
  /** Runs `work` under a label; the spinner turns into ✓ or ✗. */
  step<T>(label: string, work: () => Promise<T>): Promise<T>;
  line(text: string): void;
}

export function createProgress(stream: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean }): Progress {
  const tty = stream.isTTY === true;
  return {
    line: (text) => void stream.write(`${text}\n`),
    async step<T>(label: string, work: () => Promise<T>): Promise<T> {
      if (!tty) {
        stream.write(`… ${label}\n`);
        return work();
      }
      let i = 0;
      const draw = () => stream.write(`\r\x1b[2K${FRAMES[i++ % FRAMES.length]} ${label}`);
      draw();
      const timer = setInterval(draw, 80);
      try {
        const result = await work();
        stream.write(`\r\x1b[2K✓ ${label}\n`);
        return result;
      } catch (error) {
        stream.write(`\r\x1b[2K✗ ${label}\n`);
        throw error;
      } finally {
        clearInterval(timer);
      }
    },
  };
}
