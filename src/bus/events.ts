import type { Logger } from 'pino';
import type { InsertedCommand } from '../backends/backend.js';
import {
  BUS_EVENT_NAMES,
  TypedEvents,
  type BusEventMap,
  type SentCommand,
} from '../core/events.js';

/** The events a bus's listeners see: `bus.events`. */
export type BusEvents = TypedEvents<BusEventMap>;

type Sendable = Pick<SentCommand, 'id' | 'domain' | 'type' | 'correlationId' | 'batchId'>;

/** The bus's side of its events: an event object is built only when someone listens. */
export class BusEventSource extends TypedEvents<BusEventMap> {
  constructor(logger: Logger) {
    super(logger, BUS_EVENT_NAMES, 'bus');
  }

  /**
   * One command sent: told when it was stored, not when it came back as a repeat.
   * `calledAt`: performance.now() when the send was called.
   */
  sentOne(inserted: InsertedCommand, inTransaction: boolean, calledAt: number): void {
    if (!inserted.created || !this.listening('sent')) return;
    this.emit('sent', {
      count: 1,
      commands: [sentCommand(inserted.command)],
      inTransaction,
      durationMs: performance.now() - calledAt,
    });
  }

  /** Commands sent together; the repeats among `inserted` are left out. */
  sentMany(inserted: readonly InsertedCommand[], inTransaction: boolean, calledAt: number): void {
    if (!this.listening('sent')) return;
    this.sent(
      inserted.filter((i) => i.created).map((i) => i.command),
      inTransaction,
      calledAt,
    );
  }

  /** Commands stored, all of them new (a batch's). */
  sent(commands: readonly Sendable[], inTransaction: boolean, calledAt: number): void {
    if (commands.length === 0 || !this.listening('sent')) return;
    this.emit('sent', {
      count: commands.length,
      commands: commands.map(sentCommand),
      inTransaction,
      durationMs: performance.now() - calledAt,
    });
  }
}

/** What the 'sent' event names of a command: no payload. */
export function sentCommand(c: Sendable): SentCommand {
  return {
    id: c.id,
    domain: c.domain,
    type: c.type,
    correlationId: c.correlationId,
    batchId: c.batchId,
  };
}
