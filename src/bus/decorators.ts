import type { Handler } from '../core/context.js';
import { ConfigurationError } from '../core/errors.js';
import type { HandlerOptions } from '../core/registry.js';

interface HandlerMark {
  domain: string;
  type: string;
  options: HandlerOptions;
}

/** Methods marked by @handler, found again when an instance is registered. */
const marks = new WeakMap<object, HandlerMark>();

/**
 * Marks a class method as the handler of `domain/type` (a standard TypeScript 5
 * decorator). Nothing is registered until `bus.register(instance)`, so each instance gets
 * its own constructor-injected dependencies.
 */
export function handler(domain: string, type: string, options: HandlerOptions = {}) {
  return function mark<T extends (...args: never[]) => unknown>(
    method: T,
    context: ClassMethodDecoratorContext,
  ): T {
    if (context.kind !== 'method') throw new ConfigurationError('@handler goes on a method');
    marks.set(method, { domain, type, options });
    return method;
  };
}

export interface HandlerSink {
  handle(domain: string, type: string, options: HandlerOptions, fn: Handler): unknown;
}

export function registerInstance(sink: HandlerSink, instance: object): number {
  let found = 0;
  const seen = new Set<string>();
  for (
    let proto = Object.getPrototypeOf(instance) as object | null;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (seen.has(name)) continue; // a subclass override wins
      seen.add(name);
      const method = (instance as Record<string, unknown>)[name];
      const mark = typeof method === 'function' ? marks.get(method) : undefined;
      if (!mark) continue;
      sink.handle(mark.domain, mark.type, mark.options, (method as Handler).bind(instance));
      found++;
    }
  }
  if (found === 0) {
    throw new ConfigurationError(
      `${instance.constructor.name} has no method marked with @handler(domain, type)`,
    );
  }
  return found;
}
