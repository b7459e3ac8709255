/**
 * From a stored delivery to the handlers: parse the stored body, normalize it with the
 * forge's own schemas, and hand each ForgeEvent to the handler for its kind.
 */
import type { ForgeEvent } from '../forges/event.js';
import { PayloadError, RateLimitedError } from '../forges/errors.js';
import { normalizeGitHub } from '../forges/github/normalize.js';
import { normalizeGitLab } from '../forges/gitlab/normalize.js';
import type { Delivery } from '../store/schema.js';

export type EventHandlers = {
  [K in ForgeEvent['kind']]?: (event: Extract<ForgeEvent, { kind: K }>) => Promise<void>;
};

export function normalizeDelivery(delivery: Pick<Delivery, 'forge' | 'event' | 'body'>): ForgeEvent[] {
  let payload: unknown;
  try {
    payload = JSON.parse(delivery.body);
  } catch {
    throw new PayloadError(delivery.event, ['body is not valid JSON']);
  }
  if (delivery.forge === 'github') return normalizeGitHub(delivery.event, payload);
  if (delivery.forge === 'gitlab') return normalizeGitLab(delivery.event, payload);
  throw new PayloadError(delivery.event, [`unknown forge "${delivery.forge}"`]);
}

/** Builds the inbox handler: every event of a delivery, in order. */
export function dispatcher(handlers: EventHandlers): (delivery: Delivery) => Promise<number> {
  return async (delivery) => {
    const events = normalizeDelivery(delivery);
    for (const event of events) {
      const handler = handlers[event.kind] as ((e: ForgeEvent) => Promise<void>) | undefined;
      if (handler) await handler(event);
    }
    return events.length;
  };
}

/** A malformed payload stays malformed. A rate limit, a timeout or a 5xx may pass: not permanent. */
export const isPermanentError = (error: unknown): boolean => error instanceof PayloadError;

/** The wait a rate-limited forge asked for: the inbox reschedules the delivery for then. */
export const retryAfterMsOf = (error: unknown): number | null => (error instanceof RateLimitedError ? error.retryAfterMs : null);
