import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigurationError } from '../../../core/errors.js';
import { lazySchema } from '../../../core/lazy-zod.js';

export interface NatsJetStreamOptions {
  /**
   * Where the NATS servers are: `nats://host:4222`, `host:4222`, or several (the client
   * picks one and moves on when it goes away). Credentials may stand in the URL
   * (`nats://user:password@host:4222`); they never appear in an error or a log.
   * Default `nats://127.0.0.1:4222`. Not with `connection`.
   */
  servers?: string | string[];
  /**
   * A connection the application made itself (its own authentication, TLS, reconnect
   * settings). The transport uses it and never closes it. Not with `servers`.
   */
  connection?: NatsConnection;
  /** Put before every stream name (letters, digits, '_' and '-'). Default none. */
  streamPrefix?: string;
  /** Copies of each stream in a JetStream cluster, 1 to 5. Default 1. */
  replicas?: number;
  /**
   * How long the server remembers a published event id and drops a second publish of it
   * (JetStream's duplicate window). Default 120000 (two minutes, the server's own default).
   */
  duplicateWindowMs?: number;
}

export interface NatsJetStreamSettings {
  servers: string[];
  connection: NatsConnection | null;
  streamPrefix: string;
  replicas: number;
  duplicateWindowMs: number;
}

export const DEFAULT_SERVERS = 'nats://127.0.0.1:4222';
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

function looksLikeConnection(value: unknown): value is NatsConnection {
  const candidate = value as Partial<Record<keyof NatsConnection, unknown>> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.publish === 'function' &&
    typeof candidate.request === 'function' &&
    typeof candidate.isClosed === 'function' &&
    typeof candidate.status === 'function'
  );
}

const optionsSchema = lazySchema((z) => {
  const server = z
    .string()
    .min(1, 'a server must not be empty')
    .regex(/^\S+$/, 'a server must not hold whitespace: write nats://host:4222');
  return z.strictObject({
    servers: z.union([server, z.array(server).min(1, 'give at least one server')]).optional(),
    connection: z
      .custom<NatsConnection>(looksLikeConnection, {
        message:
          'connection must be a NatsConnection made with connect() from @nats-io/transport-node',
      })
      .optional(),
    streamPrefix: z
      .string()
      .regex(
        /^[A-Za-z0-9_-]{0,64}$/,
        "streamPrefix may hold only letters, digits, '_' and '-' (at most 64)",
      )
      .optional(),
    replicas: z.number().int('replicas must be a whole number').min(1).max(5).optional(),
    duplicateWindowMs: z
      .number()
      .int('duplicateWindowMs must be a whole number of milliseconds')
      .min(100, 'duplicateWindowMs must be at least 100')
      .optional(),
  });
});

/** The options checked and completed; a ConfigurationError says what is wrong and how to fix it. */
export function readOptions(options: unknown): NatsJetStreamSettings {
  const result = optionsSchema().safeParse(options ?? {});
  if (!result.success) {
    // Zod's messages name the option and the rule, never the value, so no credential leaks.
    const problems = result.error.issues.map(
      (issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'options'}: ${issue.message}`,
    );
    throw new ConfigurationError(`natsJetStream options are not valid: ${problems.join('; ')}`);
  }
  const { servers, connection, streamPrefix, replicas, duplicateWindowMs } = result.data;
  if (servers !== undefined && connection !== undefined) {
    throw new ConfigurationError(
      'natsJetStream takes servers or connection, not both: a given connection already knows its servers',
    );
  }
  return {
    servers:
      servers === undefined ? [DEFAULT_SERVERS] : typeof servers === 'string' ? [servers] : servers,
    connection: connection ?? null,
    streamPrefix: streamPrefix ?? '',
    replicas: replicas ?? 1,
    duplicateWindowMs: duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
  };
}
