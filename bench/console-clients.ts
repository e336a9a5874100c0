/**
 * A child process of the drain benchmark (console-drain.ts): the console's HTTP API on
 * 127.0.0.1 over the drain's store, and `clients` live pages on it, each as the single-page
 * app is: one fetch-streamed SSE connection to /api/events read to the end, and a GET of
 * /api/overview every 5 s. It prints `ready` once every client has had its first event,
 * and, when its stdin closes, stops and prints one JSON line of what the clients received.
 *
 *   node --import tsx console-clients.ts <schema> <clients>
 */
import { CommandBus } from '../src/bus/bus.js';
import { serveConsole } from './console-http.js';
import { openStore } from './console-store.js';

interface ClientStats {
  events: number;
  bytes: number;
  overviews: number;
  errors: number;
}

async function runClient(
  url: string,
  signal: AbortSignal,
  stats: ClientStats,
  firstEvent: () => void,
): Promise<void> {
  const response = await fetch(`${url}/api/events`, { signal });
  if (!response.ok || !response.body) throw new Error(`GET /api/events: ${response.status}`);
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      stats.bytes += value.byteLength;
      pending += decoder.decode(value, { stream: true });
      // events end with a blank line; count whole ones only
      let end: number;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const event = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (event.includes('data:')) {
          stats.events++;
          firstEvent();
        }
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

async function main(): Promise<void> {
  const [schema, clientsArg] = process.argv.slice(2);
  const clients = Number(clientsArg);
  if (!schema || !Number.isInteger(clients) || clients < 1)
    throw new Error('usage: console-clients.ts <schema> <clients>');
  const backend = await openStore('postgres', schema);
  const bus = new CommandBus({ backend });
  const served = await serveConsole(bus);
  if (!served) throw new Error('no src/console on this branch: nothing to serve');
  const stop = new AbortController();
  const stats: ClientStats = { events: 0, bytes: 0, overviews: 0, errors: 0 };
  let waiting = clients;
  let allReady!: () => void;
  const ready = new Promise<void>((resolve) => (allReady = resolve));
  const timers: NodeJS.Timeout[] = [];
  const running = Array.from({ length: clients }, (_, i) => {
    let first = true;
    // the pages were opened at different times: their 5 s polls do not fall together
    const startPolling = () =>
      timers.push(
        setInterval(() => {
          fetch(`${served.url}/api/overview`, { signal: stop.signal })
            .then((r) => r.json())
            .then(() => stats.overviews++)
            .catch(() => {
              if (!stop.signal.aborted) stats.errors++;
            });
        }, 5000),
      );
    timers.push(setTimeout(startPolling, (5000 * i) / clients));
    return runClient(served.url, stop.signal, stats, () => {
      if (first && ((first = false), --waiting === 0)) allReady();
    }).catch(() => {
      stats.errors++;
    });
  });
  await ready;
  // the CPU this process spends from here on: the console's server and its 20 clients
  // (a browser's share of it runs elsewhere in a deployment: an upper bound)
  const cpuAtReady = process.cpuUsage();
  const wallAtReady = performance.now();
  process.stdout.write('ready\n');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  const cpu = process.cpuUsage(cpuAtReady);
  const wallMs = performance.now() - wallAtReady;
  for (const timer of timers) clearInterval(timer);
  stop.abort();
  await Promise.all(running);
  await served.close();
  await bus.close();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(
    `${JSON.stringify({ ...stats, cpuMs: Math.round(cpuMs), wallMs: Math.round(wallMs) })}\n`,
  );
}

await main();
