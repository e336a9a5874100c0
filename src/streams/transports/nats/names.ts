import { createHash } from 'node:crypto';
import { ValidationError } from '../../../core/errors.js';

/**
 * How topics, keys and groups become JetStream names and subjects.
 *
 * A topic is a subject prefix of one or more tokens (`orders`, `orders.dead-letter`); a
 * message's subject is the topic plus exactly one token for its key, so a topic's stream
 * listens on `<topic>.*`. With the single-token wildcard, topics that share leading tokens
 * never overlap: `orders.*` and `orders.dead-letter.*` match subjects of different lengths,
 * so JetStream accepts both streams, and a subject names its topic and key unambiguously.
 *
 * Stream and consumer names may not hold '.', '*', '>', whitespace or path separators, and
 * keys may be any text, so both are escaped the same way: letters, digits and '-' stand as
 * they are; every other character (including '_') becomes `_<hex code point>_`. The
 * mapping is deterministic and one-to-one: two topics never share a stream, two keys never
 * share a subject.
 */

/** The key token of a message that has no key. Escaping never yields a lone '_'. */
export const NULL_KEY_TOKEN = '_';
/** The key token of the empty key: an escape sequence with nothing in it. */
const EMPTY_KEY_TOKEN = '__';
/**
 * Marks a name shortened with a hash. Escaped text never holds `__h`: two underscores in a
 * row close one escape and open the next, whose first character is a hex digit.
 */
const HASHED_MARK = '__h';

/** JetStream stores a stream or consumer in a directory of its name: keep it well under 255 bytes. */
const MAX_NAME_LENGTH = 240;
/** A key token longer than this is shortened with a hash (the key then travels in a header). */
export const MAX_KEY_TOKEN_LENGTH = 480;

const PLAIN = /^[A-Za-z0-9-]$/;
const ESCAPE = /_([0-9a-f]{1,6})_/g;

export function escapeName(text: string): string {
  let out = '';
  for (const char of text) {
    out += PLAIN.test(char) ? char : `_${char.codePointAt(0)!.toString(16)}_`;
  }
  return out;
}

function unescapeName(text: string): string {
  return text.replace(ESCAPE, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)));
}

function hashed(escaped: string, original: string, room: number): string {
  const digest = createHash('sha256').update(original).digest('hex').slice(0, 32);
  let head = escaped.slice(0, room - HASHED_MARK.length - digest.length);
  // Underscores come in pairs around an escape's hex digits: an odd count means the cut
  // fell inside one, and the half escape goes.
  if ((head.split('_').length - 1) % 2 === 1) head = head.slice(0, head.lastIndexOf('_'));
  return `${head}${HASHED_MARK}${digest}`;
}

function boundedName(prefix: string, text: string): string {
  const escaped = escapeName(text);
  const room = MAX_NAME_LENGTH - prefix.length;
  return prefix + (escaped.length <= room ? escaped : hashed(escaped, text, room));
}

const TOKEN_FORBIDDEN = /[\s*>\p{Cc}]/u;

/**
 * Checks that a topic can stand as the leading tokens of a subject; throws a
 * ValidationError that says what is wrong with it otherwise.
 */
export function checkNatsTopic(topic: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new ValidationError(
      `a NATS topic must be a non-empty string; got ${JSON.stringify(topic)}`,
      'topic',
    );
  }
  const problem = topic.startsWith('$')
    ? "starts with '$', which NATS keeps for its own subjects ($JS, $SYS)"
    : TOKEN_FORBIDDEN.test(topic)
      ? "holds whitespace, a control character, '*' or '>', which NATS subjects may not"
      : topic.split('.').some((token) => token === '')
        ? "has an empty token (a leading or trailing '.', or '..')"
        : null;
  if (problem) {
    throw new ValidationError(
      `NATS topic ${JSON.stringify(topic)} ${problem}; use dot-separated tokens of letters, digits, '_', ':' and '-', such as orders.created`,
      'topic',
    );
  }
  return topic;
}

/** The JetStream stream that holds a topic's messages. */
export function streamNameFor(topic: string, streamPrefix = ''): string {
  return boundedName(streamPrefix, checkNatsTopic(topic));
}

/** The durable pull consumer that is a group's place on one topic's stream. */
export function durableNameFor(group: string): string {
  if (group.length === 0)
    throw new ValidationError('the consumer group must be a non-empty string', 'group');
  return boundedName('', group);
}

/** The subjects a topic's stream listens on. */
export function streamSubjectFor(topic: string): string {
  return `${topic}.*`;
}

/** The key as one subject token; `long` says it was shortened and must travel in a header too. */
export function keyToken(key: string | null): { token: string; long: boolean } {
  if (key === null) return { token: NULL_KEY_TOKEN, long: false };
  if (key === '') return { token: EMPTY_KEY_TOKEN, long: false };
  const escaped = escapeName(key);
  if (escaped.length <= MAX_KEY_TOKEN_LENGTH) return { token: escaped, long: false };
  return { token: hashed(escaped, key, MAX_KEY_TOKEN_LENGTH), long: true };
}

export function subjectFor(topic: string, key: string | null): { subject: string; long: boolean } {
  const { token, long } = keyToken(key);
  return { subject: `${topic}.${token}`, long };
}

/** The key back from a subject's last token (a shortened key comes from its header instead). */
export function keyFromSubject(topic: string, subject: string): string | null {
  const token = subject.slice(topic.length + 1);
  if (token === NULL_KEY_TOKEN) return null;
  if (token === EMPTY_KEY_TOKEN) return '';
  return unescapeName(token);
}
