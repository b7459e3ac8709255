/**
 * The base of every error whose message is the whole story for a person: a bad argument, a
 * config problem, a busy store. The CLI prints such an error as one line and exits non-zero;
 * anything else is a bug and keeps its stack.
 *
 * ```ts
 * class TierError extends ExpectedError {}
 * throw new TierError(`no agent named ${name}`);
 * ```
 */
export class ExpectedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
