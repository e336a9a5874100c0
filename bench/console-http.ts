/**
 * The console's HTTP API served on a free port of 127.0.0.1 (createConsole from
 * src/console/index.ts, served by @hono/node-server), for the benchmarks that talk to it
 * as a browser would. Null at a commit from before the console (`--at`).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandBus } from '../src/bus/bus.js';

export interface ServedConsole {
  url: string;
  close(): Promise<void>;
}

interface ConsoleModule {
  createConsole: (
    bus: CommandBus,
    options: { host?: string; livePollMs?: number },
  ) => { fetch: (request: Request) => Promise<Response> | Response; close: () => Promise<void> };
}

const CONSOLE_ENTRY = join(
  fileURLToPath(import.meta.url),
  '..',
  '..',
  'src',
  'console',
  'index.ts',
);

export function consoleExists(): boolean {
  return existsSync(CONSOLE_ENTRY);
}

export async function serveConsole(bus: CommandBus): Promise<ServedConsole | null> {
  if (!consoleExists()) return null;
  // a computed specifier: this file type-checks on a branch without the console too
  const { createConsole } = (await import(CONSOLE_ENTRY)) as ConsoleModule;
  const { serve } = await import('@hono/node-server');
  const consoleApp = createConsole(bus, { host: '127.0.0.1' });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: (request) => consoleApp.fetch(request), hostname: '127.0.0.1', port: 0 },
      () => resolve(s),
    );
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await consoleApp.close();
      // the SSE clients' connections are closed by them; close() waits for none longer
      if ('closeAllConnections' in server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** GETs `path` and reads its JSON (a failure names the status and the problem). */
export async function getJson<T>(base: string, path: string): Promise<T> {
  const response = await fetch(base + path);
  const body = (await response.json()) as T;
  if (!response.ok)
    throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}
