/**
 * dispatchbox/streams/nats: the NATS JetStream transport of stream services
 * (docs/streams/nats.md). Needs the optional peer dependencies `@nats-io/transport-node`
 * and `@nats-io/jetstream`.
 */
import type { StreamTransport } from '../../transport.js';
import { readOptions, type NatsJetStreamOptions } from './options.js';
import { NatsJetStreamTransport } from './transport.js';

export type { NatsJetStreamOptions } from './options.js';
export { streamNameFor, durableNameFor, checkNatsTopic } from './names.js';

/**
 * A stream transport over NATS JetStream: each topic is a stream listening on
 * `<topic>.*`, each message goes to `<topic>.<key>`, each group is a durable pull
 * consumer. Throws a ConfigurationError at once when an option is wrong; connects on
 * first use.
 */
export function natsJetStream(options: NatsJetStreamOptions = {}): StreamTransport {
  return new NatsJetStreamTransport(readOptions(options));
}
