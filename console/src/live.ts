/**
 * Live updates: one Server-Sent Events stream from /api/events, read with fetch and a
 * ReadableStream (EventSource cannot send the Authorization header). It carries the
 * counts every second, job progress, and changes to the commands the open page watches.
 * The stream is closed while the tab is hidden and opened again when it is shown, so an
 * idle tab costs the server nothing.
 */
import { useEffect, useState } from 'preact/hooks';
import { apiUrl, headers, notifyUnauthorized } from './api';
import type { Command, Job, LiveCounts } from './types';

export type LiveEvent =
  | { event: 'counts'; data: LiveCounts }
  | { event: 'job'; data: Job }
  | { event: 'command'; data: Command };

type Listener = (event: LiveEvent) => void;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15_000;

class LiveStream {
  private readonly listeners = new Set<Listener>();
  /** Command id → how many views watch it. */
  private readonly watched = new Map<string, number>();
  private controller: AbortController | null = null;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  /** Whether the stream is open (for the header's indicator). */
  connected = false;
  latestCounts: LiveCounts | null = null;

  start(): void {
    if (this.started) return;
    this.started = true;
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) this.close();
      else this.restart();
    });
    this.restart();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  watch(id: string): () => void {
    // The server takes command ids (UUIDs) only; a mistyped URL watches nothing.
    if (!UUID.test(id)) return () => {};
    this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
    this.restart();
    return () => {
      const left = (this.watched.get(id) ?? 1) - 1;
      if (left > 0) this.watched.set(id, left);
      else this.watched.delete(id);
    };
  }

  /** Opens the stream afresh (after sign-in, when shown again, when the watched set grows). */
  restart(): void {
    this.close();
    if (this.started && !document.hidden) void this.run();
  }

  private close(): void {
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = null;
    this.setConnected(false);
  }

  private async run(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const ids = [...this.watched.keys()].join(',');
    try {
      const response = await fetch(apiUrl(`/events${ids ? `?commands=${ids}` : ''}`), {
        headers: headers({ Accept: 'text/event-stream' }),
        signal: controller.signal,
      });
      if (response.status === 401) {
        notifyUnauthorized();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
      this.setConnected(true);
      this.retryMs = RETRY_MIN_MS;
      await this.read(response.body, controller.signal);
    } catch {
      // Dropped or refused: try again below, unless closed on purpose.
    }
    if (controller.signal.aborted || this.controller !== controller) return;
    this.setConnected(false);
    this.retryTimer = setTimeout(() => this.restart(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    signal.addEventListener('abort', () => void reader.cancel().catch(() => {}));
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  /** One SSE message: `event:` and `data:` lines; lines starting with ':' are pings. */
  private dispatch(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    const message = { event, data: parsed } as LiveEvent;
    if (message.event === 'counts') this.latestCounts = message.data;
    for (const listener of this.listeners) listener(message);
  }

  private readonly connectionListeners = new Set<(connected: boolean) => void>();

  onConnection(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    for (const listener of this.connectionListeners) listener(connected);
  }
}

export const live = new LiveStream();

/** The latest counts from the stream (null until the first arrives). */
export function useLiveCounts(): LiveCounts | null {
  const [counts, setCounts] = useState(live.latestCounts);
  useEffect(
    () =>
      live.subscribe((message) => {
        if (message.event === 'counts') setCounts(message.data);
      }),
    [],
  );
  return counts;
}

/** Calls `listener` with every event until the view goes away. */
export function useLiveEvents(listener: Listener): void {
  useEffect(() => live.subscribe(listener), [listener]);
}

/** Watches one command: `onChange` gets its new state whenever it changes. */
export function useWatchedCommand(id: string, onChange: (command: Command) => void): void {
  useEffect(() => {
    const unwatch = live.watch(id);
    const unsubscribe = live.subscribe((message) => {
      if (message.event === 'command' && message.data.id === id) onChange(message.data);
    });
    return () => {
      unsubscribe();
      unwatch();
    };
  }, [id, onChange]);
}

export function useConnected(): boolean {
  const [connected, setConnected] = useState(live.connected);
  useEffect(() => live.onConnection(setConnected), []);
  return connected;
}
