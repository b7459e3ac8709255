/** Store timestamps: ISO-8601 UTC strings, which sort the same as the instants they name. */
export const nowIso = (): string => new Date().toISOString();
export const isoAfter = (ms: number, from: number = Date.now()): string => new Date(from + ms).toISOString();
