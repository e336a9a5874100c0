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
    const mod = (await importHandlerModule(full)) as {
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

const TYPESCRIPT = /\.(?:ts|mts)$/;
let tsxRegistered = false;

/**
 * Imports a handler module. Node (20, 22) cannot import TypeScript by itself; when a `.ts`
 * module fails for that reason, tsx's ESM loader is registered in this process (once) and
 * the import is tried again. A process started under tsx (`tsx`, `node --import tsx`)
 * imports TypeScript directly and never gets here.
 */
export async function importHandlerModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  try {
    return await import(url);
  } catch (error) {
    if (
      !TYPESCRIPT.test(file) ||
      (error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION'
    )
      throw error;
  }
  if (!tsxRegistered) {
    await registerTsx(file);
    tsxRegistered = true;
  }
  // Node remembers the failed import of `url`; the same file under another URL loads anew.
  return import(`${url}?typescript`);
}

// A string, not a literal in import(): TypeScript then leaves the optional peer unresolved.
const TSX_API: string = 'tsx/esm/api';

async function registerTsx(file: string): Promise<void> {
  let api: { register: () => unknown };
  try {
    // tsx is an optional peer dependency: only TypeScript handler modules need it.
    api = (await import(TSX_API)) as { register: () => unknown };
  } catch {
    throw new ConfigurationError(
      `${file} is TypeScript, which Node cannot load by itself: install tsx next to dispatchbox (npm i -D tsx) and dispatchbox loads it, or compile your handlers to .js and point the handler directory (--handlers, DISPATCHBOX_HANDLERS_DIR) at the output`,
    );
  }
  api.register();
}
