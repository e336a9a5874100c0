import { connect, type NatsConnection, type Status } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { ConfigurationError, StoreError } from '../../../core/errors.js';
import { redactSecrets } from '../../../core/redact.js';
import type { NatsJetStreamSettings } from './options.js';

/** How long a JetStream API call or publish may wait for its answer. */
export const API_TIMEOUT_MS = 5000;

/**
 * One NATS connection with its JetStream clients, and whether it is up right now. The
 * client reconnects by itself, forever, with the same subscriptions; what was sent while
 * it was away waits in its buffer (or fails when its request times out).
 */
export class NatsLink {
  private reconnecting = false;
  /** The connection's status events; stopped on close (a given connection outlives us). */
  private readonly statuses: AsyncIterable<Status> & { stop?: () => void };

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
    /** False when the application gave the connection: it closes it, not us. */
    private readonly owned: boolean,
  ) {
    this.statuses = nc.status();
    void this.watchStatus();
  }

  static async open(settings: NatsJetStreamSettings): Promise<NatsLink> {
    const where = redactSecrets(settings.servers.join(', '));
    let nc = settings.connection;
    const owned = nc === null;
    if (nc === null) {
      try {
        nc = await connect({
          servers: settings.servers,
          name: 'dispatchbox-streams',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          reconnectJitter: 100,
          // A server that stops answering (rather than closing the socket) is noticed in
          // 20 s and left for another, instead of after the default 4 minutes.
          pingInterval: 10_000,
          maxPingOut: 2,
        });
      } catch (error) {
        throw new StoreError(
          `could not connect to NATS at ${where}: ${redactSecrets(messageOf(error))}; check that nats-server is running there (with -js) and that the servers option is right`,
          { cause: error },
        );
      }
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS });
      return new NatsLink(nc, jsm, jetstream(nc, { timeout: API_TIMEOUT_MS }), owned);
    } catch (error) {
      if (owned) await nc.close().catch(() => undefined);
      throw new ConfigurationError(
        `NATS at ${where} does not offer JetStream: ${redactSecrets(messageOf(error))}; start nats-server with -js (or enable JetStream for this account)`,
        { cause: error },
      );
    }
  }

  /** Reachable: not closed and not between a lost connection and the next. */
  get up(): boolean {
    return !this.nc.isClosed() && !this.reconnecting;
  }

  async close(): Promise<void> {
    this.statuses.stop?.();
    if (!this.owned || this.nc.isClosed()) return;
    await this.nc.close();
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.statuses) {
      if (status.type === 'disconnect' || status.type === 'reconnecting') this.reconnecting = true;
      else if (status.type === 'reconnect') this.reconnecting = false;
    }
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
