/**
 * The stream transport conformance suite (test/helpers/stream-conformance.ts) on NATS
 * JetStream: the shared nats-server for most tests, a private one (killed with kill -9 and
 * started again on the same port and store) for the restart test.
 */
import { afterAll } from 'vitest';
import { deleteStreams, natsAvailable, NATS_URL, PrivateNats } from './helpers/nats-server.js';
import { streamConformance } from './helpers/stream-conformance.js';

if (await natsAvailable()) {
  // The suite's topics are conf-nats-<label>-<pid>-…, and so are their streams' names.
  afterAll(() => deleteStreams(new RegExp(`^conf-nats-.*-${process.pid}-`)));
  afterAll(() => PrivateNats.destroyAll());

  streamConformance('nats', {
    spec: () => ({ kind: 'nats', options: { servers: NATS_URL } }),
    restartable: async () => {
      const server = await PrivateNats.create();
      return {
        spec: { kind: 'nats', options: { servers: server.url } },
        restart: async () => {
          await server.stop('SIGKILL');
          await server.start();
        },
        stop: () => server.destroy(),
      };
    },
  });
}
