import { ValidationError } from './errors.js';
import { unstorableText } from './json.js';

/**
 * Command headers: a small map of text carried with a command, for what is about the
 * command rather than in its payload (trace context, a tenant, a request id). The limits
 * keep a command's row small and the same on every store.
 */
export const HEADER_LIMITS = {
  /** Characters of a name. */
  nameLength: 128,
  /** Characters (UTF-16 code units, as String.length counts them) of a value. */
  valueLength: 4096,
  /** Headers of one command. */
  entries: 64,
  /** UTF-8 bytes of every name and value of one command together. */
  totalBytes: 16 * 1024,
} as const;

/**
 * An HTTP field name (RFC 9110 `token`): the names a header can travel under over HTTP,
 * a message broker or an OpenTelemetry carrier unchanged.
 */
const NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * The headers of a send, checked and with names in lower case, as a fresh object; null
 * when there are none (left out, or `{}`), which every store keeps as nothing at all.
 *
 * Names are made lower case, as HTTP/2 and the W3C trace context write them: a header is
 * read back under one spelling whatever the sender wrote (`X-Request-Id` is
 * `x-request-id`), and two names that differ only in case are refused as ambiguous.
 * Throws a ValidationError naming the header and the limit it breaks.
 */
export function checkHeaders(value: unknown, path = 'headers'): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value) || !isPlainObject(value)) {
    throw new ValidationError(
      `${path} must be a plain object of header names to text values, like { traceparent: '00-…' }; got ${describe(value)}`,
      path,
    );
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return null;
  if (entries.length > HEADER_LIMITS.entries) {
    throw new ValidationError(
      `${path}: ${entries.length} headers, over the limit of ${HEADER_LIMITS.entries} per command; put larger metadata in the payload`,
      path,
    );
  }
  const checked: [string, string][] = [];
  const seen = new Set<string>();
  let bytes = 0;
  for (const [given, text] of entries) {
    const name = given.toLowerCase();
    const where = `${path}[${JSON.stringify(given)}]`;
    if (name.length === 0 || name.length > HEADER_LIMITS.nameLength || !NAME_PATTERN.test(name)) {
      throw new ValidationError(
        `${where}: a header name must be 1 to ${HEADER_LIMITS.nameLength} characters of letters, digits and !#$%&'*+-.^_\`|~ (an HTTP field name)`,
        where,
      );
    }
    if (seen.has(name)) {
      throw new ValidationError(
        `${where}: names are case-insensitive (kept in lower case), and "${name}" is given twice; give it once`,
        where,
      );
    }
    seen.add(name);
    if (typeof text !== 'string') {
      throw new ValidationError(
        `${where}: a header value must be text; got ${describe(text)} (send numbers and lists as text, or in the payload)`,
        where,
      );
    }
    if (text.length > HEADER_LIMITS.valueLength) {
      throw new ValidationError(
        `${where}: the value is ${text.length} characters, over the limit of ${HEADER_LIMITS.valueLength}; put large values in the payload`,
        where,
      );
    }
    const why = unstorableText(text);
    if (why) throw new ValidationError(`${where} cannot be stored: ${why}`, where);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(text);
    checked.push([name, text]);
  }
  if (bytes > HEADER_LIMITS.totalBytes) {
    throw new ValidationError(
      `${path}: names and values come to ${bytes} bytes, over the limit of ${HEADER_LIMITS.totalBytes} bytes per command; put large metadata in the payload`,
      path,
    );
  }
  // fromEntries defines each name as an own property: a header named __proto__ stays a header
  return Object.fromEntries(checked);
}

/**
 * The W3C trace context headers: a follow-up command continues the trace of the command
 * that sent it. `traceparent` and `tracestate` describe one position in one trace, so
 * they travel as a pair; `baggage` (W3C Baggage) travels on its own.
 */
const TRACE_PAIR = ['traceparent', 'tracestate'] as const;
const BAGGAGE = 'baggage';

/**
 * The headers of a follow-up sent by `ctx.send` from the handler of a command with
 * `parent` headers: the follow-up's own (`own`, as given, checked later by the send),
 * plus the parent's trace context where the follow-up sets none of its own. The pair
 * `traceparent`/`tracestate` is inherited whole when the follow-up names neither, and
 * `baggage` when it does not name it. Nothing else is inherited: other headers are the
 * sender's metadata about that one command (a tenant, a reply address, a content type),
 * which may not be true of another, so a handler passes on what it means to pass on.
 *
 * `passTraceparent` false leaves the pair out: the attempt is traced and the follow-up's
 * send writes a fresh one, from its own span (core/tracing.ts).
 */
export function followUpHeaders(
  parent: Readonly<Record<string, string>>,
  own: Readonly<Record<string, string>> | undefined,
  passTraceparent = true,
): Readonly<Record<string, string>> | undefined {
  const traceparent = passTraceparent ? parent.traceparent : undefined;
  const baggage = parent[BAGGAGE];
  // the common case, a command without trace context, adds nothing to the send
  if (traceparent === undefined && baggage === undefined) return own;
  // not headers at all: the send's check says what is wrong with them
  if (own !== undefined && (typeof own !== 'object' || own === null || !isPlainObject(own)))
    return own;
  const named = new Set(Object.keys(own ?? {}).map((name) => name.toLowerCase()));
  const inherited: Record<string, string> = {};
  if (traceparent !== undefined && !TRACE_PAIR.some((name) => named.has(name))) {
    inherited.traceparent = traceparent;
    if (parent.tracestate !== undefined) inherited.tracestate = parent.tracestate;
  }
  if (baggage !== undefined && !named.has(BAGGAGE)) inherited[BAGGAGE] = baggage;
  return { ...inherited, ...own };
}

/** Headers as a store keeps them: JSON text, or null for none. */
export function headersJson(headers: Readonly<Record<string, string>> | null | undefined) {
  return headers ? JSON.stringify(headers) : null;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'class'} instance`;
  return typeof value;
}
