/**
 * The stream transport conformance suite (test/helpers/stream-conformance.ts) on the Kafka
 * transport, against librdkafka's mock cluster from kcat — not a real broker (see
 * test/helpers/kafka-mock.ts). One mock cluster serves the whole file; every test uses
 * topics and groups of its own.
 */
import { afterAll, describe } from 'vitest';
import { requireKcat, startKafkaMock, type KafkaMockCluster } from './helpers/kafka-mock.js';
import { streamConformance } from './helpers/stream-conformance.js';

const available = requireKcat();

describe.runIf(available)('Kafka (librdkafka mock cluster)', () => {
  let mock: Promise<KafkaMockCluster> | undefined;

  // Registered before the suite's own hooks, so it runs after them (hooks run as a stack):
  // the services stop first, then the cluster.
  afterAll(async () => {
    await (await mock)?.stop();
  });

  streamConformance('kafka', {
    spec: async () => {
      mock ??= startKafkaMock();
      return {
        kind: 'kafka',
        options: {
          brokers: (await mock).brokers,
          // The mock does not answer CreateTopics: ensureTopics falls back to auto-creation
          // after this wait.
          adminTimeoutMs: 1000,
          // A member killed with kill -9 keeps its partitions for session.timeout.ms, and the
          // mock waits session.timeout.ms - 1 s for members to rejoin on each rebalance.
          rdkafka: { 'session.timeout.ms': 4000, 'heartbeat.interval.ms': 500 },
        },
      };
    },
    noRestart:
      "librdkafka's mock cluster lives in the kcat process and keeps nothing when it stops, so it cannot be restarted with its data",
  });
});
