import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Handler } from '../core/context.js';
import { ConfigurationError } from '../core/errors.js';
import type { HandlerOptions } from '../core/registry.js';
import type { HandlerSink } from './decorators.js';

const MODULE = /\.(?:js|mjs|ts|mts)$/;
const NOT_A_HANDLER = /\.(?:d\.ts|test\.ts|spec\.ts|map)$/;

/**
 * Imports each module of `dir` as one handler: it exports `domain`, `type` and a `handle`
 * function, and optionally `options`. A new command type is one new file.
 */
export async function discoverHandlers(sink: HandlerSink, dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).filter((f) => MODULE.test(f) && !NOT_A_HANDLER.test(f)).sort();
  } catch (error) {
    throw new ConfigurationError(
      `cannot read the handler directory ${dir}: ${(error as Error).message}`,
    );
  }
  const registered: string[] = [];
  for (const file of entries) {
    const full = path.resolve(dir, file);
    const mod = (await import(pathToFileURL(full).href)) as {
      domain?: unknown;
      type?: unknown;
      handle?: unknown;
      options?: HandlerOptions;
    };
    if (
      typeof mod.domain !== 'string' ||
      typeof mod.type !== 'string' ||
      typeof mod.handle !== 'function'
    ) {
      throw new ConfigurationError(
        `${full} is not a handler module: it must export \`domain\` and \`type\` strings and a \`handle(data, ctx)\` function`,
      );
    }
    sink.handle(mod.domain, mod.type, mod.options ?? {}, mod.handle as Handler);
    registered.push(`${mod.domain}/${mod.type}`);
  }
  return registered;
}
