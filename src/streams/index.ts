/**
 * dispatchbox/streams: consumers and producers over Redis Streams, NATS JetStream and
 * Kafka, built by composition (docs/streams.md). The transports are their own subpath
 * exports (dispatchbox/streams/redis, /nats, /kafka), so a user of one never installs the
 * client of another.
 */
export { streamService, StreamServiceBuilder, DEFAULT_STREAM_RETRY } from './service.js';
export type {
  StreamService,
  StreamServiceOptions,
  DedupOptions,
  ErrorHandlingOptions,
  ConsumerHealth,
} from './service.js';
export type { ConsumeOptions } from './consume-options.js';
export type { StreamContext, StreamHandler } from './context.js';
export type { Envelope } from './envelope.js';
export { StreamProducer, checkTopicName, type StreamPublishOptions } from './producer.js';
export { StreamMetrics, type StreamLabels } from './metrics.js';
export { CachedDedup, redisDedup, type DedupStore, type RedisDedupClient } from './dedup.js';
export { currentEvent, type EventScope } from './correlation.js';
export { EVENT_ID_HEADER } from './codec.js';
export type {
  StreamTransport,
  TransportConsumer,
  TransportProducer,
  TransportMessage,
  OutgoingMessage,
  ConsumerOptions,
} from './transport.js';
export { commandFromEvent } from './to-command.js';
export { startOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export {
  discoverStreamHandlers,
  selectStreamHandlers,
  type StreamHandlerModule,
} from './modules.js';
export { openStreamTransport } from './open.js';
