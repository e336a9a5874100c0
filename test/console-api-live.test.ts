/**
 * The console's live updates (SSE) on every store: counts that move after a send, a
 * command event after its retry, job events, one poller shared by every connection.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { openConsole, troubledCommands, type ConsoleUnderTest } from './helpers/console.js';
import { everyStore } from './helpers/stores.js';

const stores = await everyStore('console_live');

interface SseEvent {
  event: string;
  data: string;
}

/** Reads an SSE response's events as they come; `next` waits for one that matches. */
function sseReader(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = '';
  let seen = 0;
  const next = async (
    match: (e: SseEvent) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<SseEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (seen < events.length) {
        const event = events[seen++]!;
        if (match(event)) return event;
      }
      if (Date.now() > deadline) throw new Error(`no SSE event ${what} within ${timeoutMs} ms`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`the SSE stream ended before ${what}`);
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        const event = lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim();
        const data = lines
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (event) events.push({ event, data });
      }
    }
  };
  return { next, events, cancel: () => reader.cancel() };
}

type Counts = {
  counts: { domain: string; state: string; count: number }[];
  totals: Record<string, number>;
};

for (const store of stores) {
  describe.runIf(store.available)(`console live updates: ${store.name}`, () => {
    let backend: Backend;
    let api: ConsoleUnderTest;

    beforeAll(async () => {
      backend = await store.open();
      api = openConsole(backend, { livePollMs: 100 });
    });
    afterAll(async () => {
      await api.close();
      await store.destroy(backend);
      await backend.close();
    });

    const pendingOf = (d: string) => (e: SseEvent) =>
      e.event === 'counts' &&
      (JSON.parse(e.data) as Counts).counts.some(
        (c) => c.domain === d && c.state === 'pending' && c.count === 1,
      );

    it('sends a watched command at once, counts that move after a send, and the command again after its retry', async () => {
      const d = `live-${randomUUID().slice(0, 8)}`;
      const [command] = await troubledCommands(api.bus, `${d}-t`, 1);
      const response = await api.call(`/api/events?commands=${command!.id}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const sse = sseReader(response);
      try {
        // the watched command as it is when the stream opens: a page that read it a moment
        // before a change still learns of the change
        const now = await sse.next((e) => e.event === 'command', 'the watched command');
        expect(JSON.parse(now.data)).toMatchObject({ id: command!.id, state: 'troubleshooting' });
        const first = await sse.next((e) => e.event === 'counts', 'counts');
        const counts = JSON.parse(first.data) as Counts & { at: string; oldestPending: unknown[] };
        expect(counts.totals.troubleshooting).toBeGreaterThanOrEqual(1);
        expect(Number.isNaN(Date.parse(counts.at))).toBe(false);
        expect(counts.counts.some((c) => c.domain === d)).toBe(false);

        await api.json('/api/commands', { body: { domain: d, type: 'x', data: {} }, status: 201 });
        await sse.next(pendingOf(d), `counts with ${d} pending`);

        await api.json(`/api/commands/${command!.id}/retry`, { body: { reason: 'try again' } });
        const changed = await sse.next((e) => e.event === 'command', 'the retried command');
        expect(JSON.parse(changed.data)).toMatchObject({ id: command!.id, state: 'pending' });
      } finally {
        await sse.cancel();
      }
    });

    it('sends job events while a bulk action runs', async () => {
      const d = `live-${randomUUID().slice(0, 8)}`;
      await troubledCommands(api.bus, d, 2);
      const sse = sseReader(await api.call('/api/events'));
      try {
        await sse.next((e) => e.event === 'counts', 'counts');
        const { job } = await api.json<{ job: { id: string } }>('/api/commands/actions', {
          body: { action: 'cancel', filter: { domain: d }, expectedCount: 2 },
          status: 202,
        });
        const done = await sse.next(
          (e) => e.event === 'job' && (JSON.parse(e.data) as { state: string }).state === 'done',
          'the finished job',
        );
        expect(JSON.parse(done.data)).toMatchObject({ id: job.id, done: 2, kind: 'bulk-action' });
      } finally {
        await sse.cancel();
      }
    });

    it('reads the counts once per interval for all connections, and stops when they close', async () => {
      const bus = api.bus;
      const counts = bus.counts.bind(bus);
      let reads = 0;
      bus.counts = (domain?: string) => {
        reads++;
        return counts(domain);
      };
      try {
        const startedAt = Date.now();
        const streams = await Promise.all(
          [1, 2, 3, 4].map(async () => sseReader(await api.call('/api/events'))),
        );
        await Promise.all(
          streams.map(async (s) => {
            for (let i = 0; i < 5; i++) await s.next((e) => e.event === 'counts', `counts ${i}`);
          }),
        );
        // one read per 100 ms round for all four connections, not one per connection
        const rounds = (Date.now() - startedAt) / 100;
        expect(reads).toBeLessThanOrEqual(Math.ceil(rounds) + 2);
        await Promise.all(streams.map((s) => s.cancel()));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const after = reads;
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(reads - after).toBeLessThanOrEqual(1);
      } finally {
        bus.counts = counts;
      }
    });
  });
}
