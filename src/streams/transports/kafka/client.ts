import type * as RdKafkaModule from 'node-rdkafka';
import type { LibrdKafkaError } from 'node-rdkafka';
import { redactSecrets, type RdKafkaConfig, type ResolvedKafkaOptions } from './options.js';

/** node-rdkafka's module: loaded on first use, so the package is needed only by Kafka users. */
export type RdKafka = typeof RdKafkaModule.default;

let loading: Promise<RdKafka> | undefined;

/** node-rdkafka, or an error that says how to install it. */
export function loadRdKafka(): Promise<RdKafka> {
  loading ??= import('node-rdkafka').then(
    // A CommonJS package: its module.exports is the default export.
    (module) => module.default,
    (cause: unknown) => {
      loading = undefined;
      throw new Error(
        'kafkaTransport needs the node-rdkafka package, which builds against librdkafka: ' +
          'install librdkafka-dev (Debian/Ubuntu) and run `BUILD_LIBRDKAFKA=0 npm install ' +
          'node-rdkafka`, or plain `npm install node-rdkafka` to build its bundled librdkafka ' +
          `(${cause instanceof Error ? cause.message : String(cause)})`,
        { cause },
      );
    },
  );
  return loading;
}

/** True for node-rdkafka's errors (they carry librdkafka's numeric code). */
export function isKafkaError(error: unknown): error is LibrdKafkaError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number'
  );
}

/** The configuration every client shares: brokers, client id and the user's extra properties. */
export function baseConfig(options: ResolvedKafkaOptions): RdKafkaConfig {
  return {
    ...options.rdkafka,
    'bootstrap.servers': options.brokers,
    'client.id': options.clientId,
  };
}

/**
 * Makes a librdkafka client. librdkafka rejects a bad property in the constructor with a
 * message that may quote its value, so the message is stripped of secrets first.
 */
export function createClient<T>(make: () => T, config: RdKafkaConfig, what: string): T {
  try {
    return make();
  } catch (error) {
    const message = redactSecrets(error instanceof Error ? error.message : String(error), config);
    throw new Error(`kafkaTransport: could not create the ${what}: ${message}`);
  }
}

/** Calls a node-rdkafka method that takes a Node-style callback, as a promise. */
export function callback<T>(
  start: (done: (error: LibrdKafkaError | null | undefined, value: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, value) => (error ? reject(asError(error)) : resolve(value)));
  });
}

/** node-rdkafka's errors are plain objects at times; make them Errors with their code kept. */
export function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (isKafkaError(error)) {
    return Object.assign(new Error(`${error.message} (librdkafka code ${error.code})`), {
      code: error.code,
    });
  }
  return new Error(String(error));
}
