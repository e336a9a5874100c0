import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { importHandlerModule } from '../bus/discover.js';
import { ConfigurationError } from '../core/errors.js';
import type { ConsumeOptions } from './consume-options.js';
import type { StreamHandler } from './context.js';

/**
 * A stream handler module: one file per stream, exporting the stream it reads, the group
 * it reads as, and its `handle(data, ctx)`; optionally `options` (concurrency, retry…).
 *
 *     export const stream = 'resources:commands';
 *     export const group = 'resources_handler_group';
 *     export async function handle(data, ctx) { … }
 */
export interface StreamHandlerModule {
  stream: string;
  group: string;
  handle: StreamHandler;
  options?: Omit<ConsumeOptions, 'topics' | 'group' | 'handler'>;
  /** The file it came from. */
  file: string;
}

const MODULE = /\.(?:js|mjs|ts|mts)$/;
const NOT_A_HANDLER = /\.(?:d\.ts|test\.ts|spec\.ts|map)$/;

/** Imports every stream handler module of `dir` (sorted by file name). A new stream is one new file. */
export async function discoverStreamHandlers(dir: string): Promise<StreamHandlerModule[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).filter((f) => MODULE.test(f) && !NOT_A_HANDLER.test(f)).sort();
  } catch (error) {
    throw new ConfigurationError(
      `cannot read the stream handler directory ${dir}: ${(error as Error).message}`,
    );
  }
  const found: StreamHandlerModule[] = [];
  for (const name of entries) {
    const file = path.resolve(dir, name);
    const mod = (await importHandlerModule(file)) as Partial<StreamHandlerModule>;
    if (
      typeof mod.stream !== 'string' ||
      typeof mod.group !== 'string' ||
      typeof mod.handle !== 'function'
    ) {
      throw new ConfigurationError(
        `${file} is not a stream handler module: it must export \`stream\` and \`group\` strings and a \`handle(data, ctx)\` function`,
      );
    }
    found.push({
      stream: mod.stream,
      group: mod.group,
      handle: mod.handle,
      options: mod.options,
      file,
    });
  }
  const seen = new Map<string, string>();
  for (const m of found) {
    const id = `${m.stream} ${m.group}`;
    const other = seen.get(id);
    if (other) {
      throw new ConfigurationError(
        `${m.file} and ${other} both read ${m.stream} as group ${m.group}: give each its own group`,
      );
    }
    seen.set(id, m.file);
  }
  return found;
}

/**
 * The modules to run: all, or (for one process per handler) those of `stream`, and of
 * `group` when given. Refuses a selection that matches none, naming what there is.
 */
export function selectStreamHandlers(
  modules: StreamHandlerModule[],
  selection: { stream?: string | undefined; group?: string | undefined },
): StreamHandlerModule[] {
  const chosen = modules.filter(
    (m) =>
      (selection.stream === undefined || m.stream === selection.stream) &&
      (selection.group === undefined || m.group === selection.group),
  );
  if (chosen.length === 0) {
    const have = modules.map((m) => `${m.stream} (group ${m.group})`).join(', ') || 'none';
    throw new ConfigurationError(
      `no stream handler module reads ${selection.stream ?? 'any stream'}${selection.group ? ` as group ${selection.group}` : ''}; the modules read: ${have}`,
    );
  }
  return chosen;
}
