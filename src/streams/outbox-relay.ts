import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { OutboxEvent, OutboxStore } from '../backends/roles/outbox.js';
import type { CommandBus } from '../bus/bus.js';
import type { JsonValue } from '../core/command.js';
import { describeError } from '../core/describe-error.js';
import { toMillis, type Duration } from '../core/duration.js';
import { ConfigurationError } from '../core/errors.js';
import type { Envelope } from './envelope.js';
import type { StreamMetrics } from './metrics.js';
import { StreamProducer } from './producer.js';
import { pause } from './reliability.js';
import type { StreamTransport } from './transport.js';

export interface OutboxRelayOptions {
  /** The bus whose store keeps the outbox (PostgreSQL or the embedded store). */
  bus: CommandBus;
  /** Where the events go. The relay closes it when it stops. */
  transport: StreamTransport;
  /** This relay's name in the lease; default hostname-pid-random. */
  relayId?: string | undefined;
  /** Events read and delivered per round. Default 500. */
  batchSize?: number | undefined;
  /** How long the lease lasts without renewal (a relay that died is replaced after it). Default '15s'. */
  lease?: Duration | undefined;
  /** How long the relay sleeps when the outbox is empty. Default '50ms'. */
  idle?: Duration | undefined;
  /** The envelopes' `source`. Default 'outbox'. */
  source?: string | undefined;
  logger?: Logger | undefined;
  metrics?: StreamMetrics | undefined;
}

export interface OutboxRelay {
  /** Stops after the round in flight; its lease is let go so another relay takes over at once. */
  stop(): Promise<void>;
  /** Events delivered since start. */
  readonly delivered: number;
  /** True while this relay holds the lease (it is the one delivering). */
  readonly active: boolean;
}

/**
 * Starts the outbox relay: it takes the store's relay lease (one relay delivers at a time,
 * which keeps the order per key), reads the oldest waiting events, writes them to their
 * topics in order, then deletes them. An event is deleted only after the transport
 * acknowledged it, so a relay killed between the two delivers it again, under the same
 * event id (consumers deduplicate). Several relays may run: the others wait for the lease.
 */
export async function startOutboxRelay(options: OutboxRelayOptions): Promise<OutboxRelay> {
  const store = options.bus.backend.outbox;
  if (!store) {
    throw new ConfigurationError(
      `the ${options.bus.backend.kind} store has no outbox: bus.publish and the relay need PostgreSQL or the embedded store`,
    );
  }
  const relayId = options.relayId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseMs = toMillis(options.lease ?? '15s', 'relay lease');
  const idleMs = toMillis(options.idle ?? '50ms', 'relay idle');
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new ConfigurationError(
      `relay batchSize must be a whole number from 1 to 10,000; got ${String(batchSize)}`,
    );
  }
  const logger = (options.logger ?? pino({ level: 'info' })).child({ relayId });
  const producer = new StreamProducer(
    await options.transport.producer(),
    options.source ?? 'outbox',
  );
  const metrics = options.metrics;
  const unwatch = metrics?.watchOutbox(() => store.stats());
  const stopping = new AbortController();
  const state = { delivered: 0, active: false };

  const loop = (async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      let waitMs = 0;
      try {
        const claim = await store.claimEvents({ relayId, leaseMs, limit: batchSize });
        if (claim === null) {
          if (state.active) logger.warn('outbox relay lease lost to another relay');
          state.active = false;
          waitMs = Math.min(leaseMs / 3, 1000);
        } else {
          if (!state.active) logger.info('outbox relay holds the lease: delivering');
          state.active = true;
          if (claim.events.length === 0) waitMs = idleMs;
          else await deliver(claim.events);
        }
        failures = 0;
      } catch (error) {
        failures += 1;
        if (failures === 1 || failures % 20 === 0) {
          logger.warn(
            { err: describeError(error), failures },
            'outbox relay round failed; trying again',
          );
        }
        waitMs = Math.min(5000, 50 * 2 ** Math.min(failures, 7));
      }
      if (waitMs > 0) await pause(waitMs, stopping.signal);
    }
  })();

  async function deliver(events: OutboxEvent[]): Promise<void> {
    const seqs = events.map((e) => e.seq);
    try {
      await producer.sendEnvelopes(
        events.map((e) => ({
          topic: e.topic,
          envelope: toEnvelope(e, options.source ?? 'outbox'),
        })),
      );
    } catch (error) {
      await store!.markFailed({ relayId, seqs }).catch(() => undefined);
      throw error;
    }
    if (!(await store!.markDelivered({ relayId, seqs }))) {
      // The lease ran out while delivering: the next holder delivers these again (same ids).
      logger.warn(
        { events: events.length },
        'outbox relay lost its lease while delivering; the events will be delivered again',
      );
      return;
    }
    state.delivered += events.length;
    if (metrics) {
      // one labelled call per topic of the round, not one per event
      const perTopic = new Map<string, number>();
      for (const e of events) perTopic.set(e.topic, (perTopic.get(e.topic) ?? 0) + 1);
      for (const [topic, n] of perTopic)
        metrics.relayed.inc({ transport: options.transport.kind, topic }, n);
    }
  }

  return {
    get delivered() {
      return state.delivered;
    },
    get active() {
      return state.active;
    },
    async stop() {
      stopping.abort();
      await loop;
      unwatch?.();
      await store.releaseLease(relayId).catch(() => undefined);
      await producer.close();
      await options.transport.close();
    },
  };
}

function toEnvelope(event: OutboxEvent, source: string): Envelope {
  return {
    id: event.id,
    type: event.type,
    time: event.createdAt.toISOString(),
    source,
    key: event.key,
    correlationId: event.correlationId,
    causationId: event.causationId,
    headers: event.headers ?? {},
    data: JSON.parse(event.dataJson) as JsonValue,
  };
}

export type { OutboxStore };
