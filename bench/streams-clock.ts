/**
 * How the consume variants are timed: every read and acknowledgement of the transport's
 * consumer goes through a counting wrapper, the same for the bare loop and the service.
 */
import type { StreamTransport, TransportConsumer } from '../src/streams/index.js';
import type { Timed } from './streams-raw.js';

export type Measured = Timed & { cpuUs: number; inTransportMs?: number };

/** Counts acknowledged messages; done when `target` are. */
export class AckClock {
  first: number | null = null;
  firstCpu: NodeJS.CpuUsage | null = null;
  acked = 0;
  /** Time spent waiting in the transport's fetch and ack calls (from the first message on). */
  fetchMs = 0;
  ackMs = 0;

  doneAt = 0;
  doneCpu: NodeJS.CpuUsage | null = null;
  readonly done: Promise<void>;
  private resolveDone: () => void = () => undefined;

  constructor(readonly target: number) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  asking(): { at: number; cpu: NodeJS.CpuUsage } {
    return { at: performance.now(), cpu: process.cpuUsage() };
  }

  fetched(asked: { at: number; cpu: NodeJS.CpuUsage }, n: number): void {
    if (n > 0 && this.first === null) {
      this.first = asked.at;
      this.firstCpu = asked.cpu;
    }
  }

  acknowledged(n: number): void {
    this.acked += n;
    if (this.acked >= this.target && this.doneAt === 0) {
      this.doneAt = performance.now();
      this.doneCpu = process.cpuUsage(this.firstCpu ?? undefined);
      this.resolveDone();
    }
  }

  result(): Measured {
    const cpu = this.doneCpu ?? { user: 0, system: 0 };
    return {
      messages: this.acked,
      ms: this.doneAt - (this.first ?? 0),
      cpuUs: cpu.user + cpu.system,
      inTransportMs: this.fetchMs + this.ackMs,
    };
  }
}

/** The consumer, with its reads and acknowledgements counted by `clock`. */
export function counted(consumer: TransportConsumer, clock: AckClock): TransportConsumer {
  return {
    fetch: async (max, waitMs) => {
      const asked = clock.asking();
      const batch = await consumer.fetch(max, waitMs);
      clock.fetched(asked, batch.length);
      if (clock.first !== null && clock.doneAt === 0) clock.fetchMs += performance.now() - asked.at;
      return batch;
    },
    ack: async (messages) => {
      const asked = performance.now();
      await consumer.ack(messages);
      if (clock.doneAt === 0) clock.ackMs += performance.now() - asked;
      clock.acknowledged(messages.length);
    },
    lag: () => consumer.lag(),
    pending: () => consumer.pending(),
    close: () => consumer.close(),
  };
}

/** The transport, with every consumer it makes counted by `clock`. */
export function countedTransport(transport: StreamTransport, clock: AckClock): StreamTransport {
  return {
    kind: transport.kind,
    ensureTopics: (topics) => transport.ensureTopics(topics),
    consumer: async (options) => counted(await transport.consumer(options), clock),
    producer: () => transport.producer(),
    connected: () => transport.connected(),
    close: () => transport.close(),
  };
}

/** Rejects after `ms` (a stuck run must not hold the whole benchmark). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
