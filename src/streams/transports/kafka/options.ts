import { z } from 'zod';

/** Extra librdkafka configuration: property name to value, as librdkafka's CONFIGURATION.md lists them. */
export type RdKafkaConfig = Record<string, string | number | boolean>;

export interface KafkaTransportOptions {
  /** Bootstrap brokers: `host:port`, a comma-separated list of them, or an array. */
  brokers: string | string[];
  /** librdkafka's `client.id` (shows in broker logs and quotas). Default `dispatchbox`. */
  clientId?: string;
  /** Partitions of a topic that ensureTopics creates. Default 3. */
  partitions?: number;
  /** Replicas of a topic that ensureTopics creates. Default: the broker's default (-1). */
  replicationFactor?: number;
  /** Extra librdkafka configuration (security, timeouts, tuning) for every client. */
  rdkafka?: RdKafkaConfig;
  /** How long an admin request (CreateTopics) or metadata request may take. Default 10 s. */
  adminTimeoutMs?: number;
}

export interface ResolvedKafkaOptions {
  brokers: string;
  clientId: string;
  partitions: number;
  replicationFactor: number;
  rdkafka: RdKafkaConfig;
  adminTimeoutMs: number;
}

/**
 * Properties the transport sets itself because its guarantees depend on them: the
 * idempotent producer with acks from all in-sync replicas, manual commits only, and the
 * callbacks it listens on. Letting `rdkafka` override them would silently weaken
 * at-least-once delivery or order per key.
 */
const RESERVED_PROPERTIES = [
  'bootstrap.servers',
  'metadata.broker.list',
  'client.id',
  'group.id',
  'enable.auto.commit',
  'enable.auto.offset.store',
  'enable.idempotence',
  'acks',
  'request.required.acks',
  'auto.offset.reset',
  'rebalance_cb',
  'offset_commit_cb',
  'dr_cb',
  'dr_msg_cb',
  'enable.partition.eof',
] as const;

const brokerAddress = z
  .string()
  .trim()
  .regex(/^[^\s,:]+:\d{1,5}$/, 'a broker address must be host:port, e.g. "kafka-1:9092"');

const optionsSchema = z.object({
  brokers: z.union([
    z.string().min(1, 'brokers must name at least one host:port'),
    z.array(brokerAddress).min(1, 'brokers must name at least one host:port'),
  ]),
  clientId: z.string().min(1).default('dispatchbox'),
  partitions: z.number().int().positive().default(3),
  replicationFactor: z
    .number()
    .int()
    .refine(
      (n) => n === -1 || n > 0,
      'replicationFactor must be positive, or -1 for the broker default',
    )
    .default(-1),
  rdkafka: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()])).default({}),
  adminTimeoutMs: z.number().int().positive().default(10_000),
});

/** Validates kafkaTransport's options; throws one error that names every wrong option. */
export function resolveKafkaOptions(options: KafkaTransportOptions): ResolvedKafkaOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    // The issues name the option and what was expected; never the value, which may be a secret.
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`,
    );
    throw new Error(`kafkaTransport: invalid options:\n  ${problems.join('\n  ')}`);
  }
  const value = parsed.data;
  const brokerList = (Array.isArray(value.brokers) ? value.brokers : value.brokers.split(','))
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  for (const broker of brokerList) {
    if (!brokerAddress.safeParse(broker).success) {
      throw new Error(
        `kafkaTransport: invalid options:\n  brokers: "${broker}" is not host:port (e.g. "kafka-1:9092")`,
      );
    }
  }
  const reserved = Object.keys(value.rdkafka).filter((name) =>
    (RESERVED_PROPERTIES as readonly string[]).includes(name),
  );
  if (reserved.length > 0) {
    throw new Error(
      `kafkaTransport: invalid options:\n  rdkafka: ${reserved.join(', ')} ` +
        `${reserved.length === 1 ? 'is' : 'are'} set by the transport (brokers, clientId, the ` +
        `consumer group, manual commits, the idempotent producer); remove ${reserved.length === 1 ? 'it' : 'them'}`,
    );
  }
  const strategy = value.rdkafka['partition.assignment.strategy'];
  if (typeof strategy === 'string' && strategy.includes('cooperative')) {
    // The consumer hands partitions over with eager rebalances (assign/unassign of the whole
    // assignment); the incremental protocol is not implemented, and the mock cluster the
    // transport is tested on does not complete cooperative rebalances.
    throw new Error(
      'kafkaTransport: invalid options:\n  rdkafka: partition.assignment.strategy ' +
        `"${strategy}" is not supported; use range, roundrobin (librdkafka's default) or both`,
    );
  }
  return {
    brokers: brokerList.join(','),
    clientId: value.clientId,
    partitions: value.partitions,
    replicationFactor: value.replicationFactor,
    rdkafka: value.rdkafka,
    adminTimeoutMs: value.adminTimeoutMs,
  };
}

/** Property names whose values are credentials: never shown in an error or a log line. */
const SECRET_PROPERTY = /(password|secret|token|credentials|\.key$|key\.pem$|jaas)/i;

/**
 * Removes the values of secret properties (sasl.password, ssl.key.password, ...) from a
 * message, for errors thrown by librdkafka that quote the configuration they rejected.
 */
export function redactSecrets(message: string, config: RdKafkaConfig): string {
  let redacted = message;
  for (const [name, value] of Object.entries(config)) {
    const text = String(value);
    if (SECRET_PROPERTY.test(name) && text.length > 0) redacted = redacted.split(text).join('***');
  }
  return redacted;
}
