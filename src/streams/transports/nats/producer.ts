import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { StoreError, ValidationError } from '../../../core/errors.js';
import type { OutgoingMessage, TransportProducer } from '../../transport.js';
import { messageOf, type NatsLink } from './connection.js';
import { checkNatsTopic, subjectFor } from './names.js';
import type { StreamSetup } from './stream-setup.js';

/** Carries a key too long for its subject token (base64url, so any text fits a header). */
export const LONG_KEY_HEADER = 'Dispatchbox-Key-Base64';

/** NATS header names are HTTP-like tokens: no ':' , whitespace or control characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n]/;

interface Prepared {
  subject: string;
  value: string;
  headers: MsgHdrs;
  id: string;
}

/**
 * Publishes to JetStream and resolves once every message has its publish ack (the stream
 * has stored it). One subject's messages (one topic and key) go one after the other, each
 * after the previous one's ack, so a failure never lets a later message of a key overtake
 * an earlier one; different subjects go at the same time.
 */
export class NatsProducer implements TransportProducer {
  private closed = false;

  constructor(
    private readonly link: NatsLink,
    private readonly setup: StreamSetup,
  ) {}

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (this.closed)
      throw new StoreError(
        'this NATS producer is closed; make a new one with transport.producer()',
      );
    const bySubject = new Map<string, Prepared[]>();
    for (const message of messages) {
      const prepared = prepare(message);
      const queue = bySubject.get(prepared.subject);
      if (queue) queue.push(prepared);
      else bySubject.set(prepared.subject, [prepared]);
    }
    // A topic nobody ensured (a dead-letter topic, a topic a handler writes to) gets its
    // stream here, once per transport: without one, JetStream would have no responder.
    await this.setup.ensure([...new Set(messages.map((m) => m.topic))]);
    const outcomes = await Promise.allSettled(
      [...bySubject.values()].map(async (queue) => {
        for (const message of queue) await this.publish(message);
      }),
    );
    // Every subject's queue has stopped before the caller hears of a failure, so a send it
    // tries again cannot overtake one still running.
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private async publish(message: Prepared): Promise<void> {
    try {
      // msgID sets Nats-Msg-Id: a second publish of the event within the duplicate window
      // is acknowledged (duplicate: true) and not stored again.
      await this.link.js.publish(message.subject, message.value, {
        msgID: message.id,
        headers: message.headers,
      });
    } catch (error) {
      throw new StoreError(
        `could not publish to NATS subject ${message.subject}: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

function prepare(message: OutgoingMessage): Prepared {
  checkNatsTopic(message.topic);
  if (typeof message.id !== 'string' || message.id.length === 0) {
    throw new ValidationError('a message needs an id (its event id, sent as Nats-Msg-Id)', 'id');
  }
  const { subject, long } = subjectFor(message.topic, message.key);
  const headers = natsHeaders();
  for (const [name, value] of Object.entries(message.headers)) {
    if (!HEADER_NAME.test(name) || /^nats-/i.test(name)) {
      throw new ValidationError(
        `header name ${JSON.stringify(name)} cannot go on NATS: use letters, digits and '-' (names starting with Nats- are the server's)`,
        'headers',
      );
    }
    if (HEADER_VALUE_FORBIDDEN.test(value)) {
      throw new ValidationError(
        `header ${name} holds a line break, which a NATS header may not`,
        'headers',
      );
    }
    headers.set(name, value);
  }
  if (long && message.key !== null) {
    headers.set(LONG_KEY_HEADER, Buffer.from(message.key, 'utf8').toString('base64url'));
  }
  return { subject, value: message.value, headers, id: message.id };
}
