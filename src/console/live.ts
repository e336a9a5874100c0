/**
 * What the SSE connections share, so that twenty open pages cost the store what one does:
 * one poller reads the counts once per interval for every connection, and one watcher per
 * command id reads it once per interval for every connection that shows it. Both run only
 * while someone listens.
 */
import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import type { Command } from '../core/command.js';
import { CommandNotFoundError } from '../core/errors.js';
import { logFailure } from '../core/log-safely.js';
import { readLiveCounts } from './counts.js';
import { commandJson } from './schemas.js';

/** What one connection is told; each gets JSON text, serialised once for all. */
export interface LiveListener {
  counts(json: string): void;
  command(json: string): void;
  /** The console is closing: end the stream. */
  end(): void;
}

interface Watch {
  listeners: Set<LiveListener>;
  /** updatedAt and state when last read; null when the command does not exist. */
  seen: string | null;
  /** The command as last read, as sent; null when it does not exist. */
  json: string | null;
}

/** Command ids read at once by the watcher. */
const WATCH_CONCURRENCY = 8;

export class LiveHub {
  private readonly listeners = new Set<LiveListener>();
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private lastCounts: { json: string; at: number } | null = null;

  constructor(
    private readonly bus: CommandBus,
    private readonly logger: Logger,
    private readonly pollMs: number,
  ) {}

  /**
   * Adds a connection, watching `commandIds`; resolves once each new id has been read,
   * and sends the connection each watched command as last read: a page that read a
   * command just before it changed learns of the change even if the watch's first read
   * already saw it. A change made after this resolves is sent. Returns the unsubscribe
   * function.
   */
  async subscribe(listener: LiveListener, commandIds: string[]): Promise<() => void> {
    this.listeners.add(listener);
    const fresh: [string, Watch][] = [];
    for (const id of commandIds) {
      let watch = this.watches.get(id);
      if (!watch) {
        watch = { listeners: new Set(), seen: null, json: null };
        this.watches.set(id, watch);
        fresh.push([id, watch]);
      }
      watch.listeners.add(listener);
    }
    await Promise.all(
      fresh.map(async ([id, watch]) => {
        const command = await this.read(id);
        watch.seen = keyOf(command);
        watch.json = command && JSON.stringify(commandJson(command));
      }),
    );
    for (const id of new Set(commandIds)) {
      const json = this.watches.get(id)?.json;
      if (json) listener.command(json);
    }
    if (this.lastCounts && Date.now() - this.lastCounts.at < this.pollMs)
      listener.counts(this.lastCounts.json);
    this.start();
    return () => {
      this.listeners.delete(listener);
      for (const id of commandIds) {
        const watch = this.watches.get(id);
        watch?.listeners.delete(listener);
        if (watch?.listeners.size === 0) this.watches.delete(id);
      }
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Ends every connection and stops polling. */
  close(): void {
    for (const listener of [...this.listeners]) listener.end();
    this.listeners.clear();
    this.watches.clear();
    this.stop();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
    if (!this.lastCounts || Date.now() - this.lastCounts.at >= this.pollMs) void this.tick();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: the counts for everyone, then the watched commands that changed. */
  private async tick(): Promise<void> {
    if (this.ticking) return; // a slow store: skip a round rather than pile them up
    this.ticking = true;
    try {
      const counts = await readLiveCounts(this.bus);
      const json = JSON.stringify({ at: new Date().toISOString(), ...counts });
      this.lastCounts = { json, at: Date.now() };
      for (const listener of this.listeners) listener.counts(json);
      await this.checkCommands();
    } catch (error) {
      logFailure(this.logger, 'warn', {}, error, 'console live updates: reading the store failed');
    } finally {
      this.ticking = false;
    }
  }

  private async checkCommands(): Promise<void> {
    const queue = [...this.watches.entries()];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        const [id, watch] = entry;
        const command = await this.read(id);
        const key = keyOf(command);
        if (key === watch.seen || !command) continue;
        watch.seen = key;
        const json = JSON.stringify(commandJson(command));
        watch.json = json;
        for (const listener of watch.listeners) listener.command(json);
      }
    };
    await Promise.all(Array.from({ length: WATCH_CONCURRENCY }, worker));
  }

  private async read(id: string): Promise<Command | null> {
    try {
      return await this.bus.get(id);
    } catch (error) {
      if (error instanceof CommandNotFoundError) return null;
      throw error;
    }
  }
}

function keyOf(command: Command | null): string | null {
  return command && `${command.updatedAt.getTime()}|${command.state}|${command.attempts}`;
}
