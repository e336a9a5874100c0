/**
 * kafkaTransport's options and its missing-client error: checked before any broker is
 * contacted, so no Kafka (not even the mock) is needed here.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { kafkaTransport } from '../src/streams/transports/kafka/index.js';
import { redactSecrets } from '../src/streams/transports/kafka/options.js';

const run = promisify(execFile);

describe('kafkaTransport options', () => {
  it('names each wrong option and what it should be', () => {
    expect(() => kafkaTransport({ brokers: [] })).toThrow(
      /brokers: brokers must name at least one host:port/,
    );
    expect(() => kafkaTransport({ brokers: 'kafka-1:9092,kafka-2' })).toThrow(
      /"kafka-2" is not host:port/,
    );
    expect(() => kafkaTransport({ brokers: 'k:9092', partitions: 0 })).toThrow(/partitions:/);
    expect(() => kafkaTransport({ brokers: 'k:9092', replicationFactor: 0 })).toThrow(
      /replicationFactor must be positive, or -1/,
    );
  });

  it('refuses librdkafka properties that would weaken its guarantees, without echoing secrets', () => {
    let message = '';
    try {
      kafkaTransport({
        brokers: 'k:9092',
        rdkafka: { 'sasl.password': 'hunter2-do-not-print', 'enable.auto.commit': true, acks: 1 },
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/rdkafka: enable\.auto\.commit, acks are set by the transport/);
    expect(message).not.toContain('hunter2');
  });

  it('refuses the cooperative-sticky assignor (the consumer rebalances eagerly)', () => {
    expect(() =>
      kafkaTransport({
        brokers: 'k:9092',
        rdkafka: { 'partition.assignment.strategy': 'cooperative-sticky' },
      }),
    ).toThrow(/"cooperative-sticky" is not supported; use range, roundrobin/);
    expect(
      kafkaTransport({ brokers: 'k:9092', rdkafka: { 'partition.assignment.strategy': 'range' } })
        .kind,
    ).toBe('kafka');
  });

  it('takes the broker list as an array or a comma-separated string', () => {
    expect(kafkaTransport({ brokers: ['a:1', 'b:2'] }).kind).toBe('kafka');
    expect(kafkaTransport({ brokers: ' a:1 , b:2 ' }).connected()).toBe(false);
  });

  it('removes secret property values from librdkafka messages', () => {
    const config = { 'sasl.password': 's3cr3t', 'ssl.key.password': 'k3y', 'client.id': 'billing' };
    expect(redactSecrets('bad value "s3cr3t" near k3y for billing', config)).toBe(
      'bad value "***" near *** for billing',
    );
  });

  it('says how to install node-rdkafka when it is missing', async () => {
    const hide = fileURLToPath(new URL('./fixtures/hide-packages.mjs', import.meta.url));
    const transport = fileURLToPath(
      new URL('../src/streams/transports/kafka/index.ts', import.meta.url),
    );
    const script = `const { kafkaTransport } = await import(${JSON.stringify(transport)});
      await kafkaTransport({ brokers: '127.0.0.1:1' }).ensureTopics(['t']).catch((e) => console.log(e.message));`;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--import', hide, '--input-type=module', '-e', script],
      { env: { ...process.env, DISPATCHBOX_TEST_HIDE: 'node-rdkafka' } },
    );
    expect(stdout).toMatch(/kafkaTransport needs the node-rdkafka package/);
    expect(stdout).toMatch(/BUILD_LIBRDKAFKA=0 npm install node-rdkafka/);
  });
});
