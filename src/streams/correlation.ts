import { AsyncLocalStorage } from 'node:async_hooks';

/** The event being handled, for what it causes to carry its correlation. */
export interface EventScope {
  eventId: string;
  correlationId: string;
}

const scope = new AsyncLocalStorage<EventScope>();

/** Runs `fn` with `event` as the current event (what `currentEvent()` returns inside it). */
export function withEventScope<T>(event: EventScope, fn: () => T): T {
  return scope.run(event, fn);
}

/**
 * The stream event whose handler is running, or undefined outside one. A producer and the
 * bus helpers read it so that what a handler causes carries its correlation id without
 * the handler passing it along.
 */
export function currentEvent(): EventScope | undefined {
  return scope.getStore();
}
