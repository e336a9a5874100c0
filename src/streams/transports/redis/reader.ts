import type { Redis } from 'ioredis';
import { SOCKET_TIMEOUT_MS } from './options.js';

/**
 * The longest one blocking read waits. The reader's connection allows this much silence
 * on top of the socket timeout before it takes itself for dead.
 */
export const MAX_BLOCK_MS = 5000;

/**
 * A consumer's own connection for its reads (a blocked read holds its connection): a
 * duplicate of the client, connecting at once.
 */
export function openReader(client: Redis): Redis {
  const { socketTimeout } = client.options;
  return client.duplicate({
    connectionName: 'dispatchbox-stream-reader',
    lazyConnect: false,
    // Fail at once rather than wait: a read queued or caught by a disconnect would hold
    // fetch() for the whole outage; the runner retries with back-off instead.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // its own, as the application's client may be set to give up; this one never does
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    // A read blocks up to MAX_BLOCK_MS with nothing coming back, and that is no dead socket;
    // beyond that, silence is a dead socket even when the application's client sets no
    // timeout (a read held on it would wait for TCP's retransmission timeout, ~15 min).
    socketTimeout: (socketTimeout ?? SOCKET_TIMEOUT_MS) + MAX_BLOCK_MS,
  });
}

/** Whether the connection is ready, or gets ready within `waitMs`. */
export function whenReady(connection: Redis, waitMs: number): Promise<boolean> {
  if (connection.status === 'ready') return Promise.resolve(true);
  if (waitMs <= 0 || connection.status === 'end') return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      connection.off('ready', onReady);
      connection.off('end', onEnd);
      resolve(ready);
    };
    const onReady = () => done(true);
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(false), waitMs);
    connection.on('ready', onReady);
    connection.on('end', onEnd);
  });
}
