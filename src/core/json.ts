import { ValidationError } from './errors.js';

/**
 * Serialises a payload or result, refusing what JSON would silently change or drop:
 * functions, symbols, `undefined` members, BigInt, NaN/Infinity, cycles, invalid Dates,
 * a `toJSON()` that returns undefined and holes in sparse arrays; and text no
 * store can hold alike: the character U+0000 and unpaired surrogates, which PostgreSQL's
 * jsonb refuses (the same value must be accepted or refused by every store). The error
 * names the path of the first offending value so the caller can find it.
 */
export function toJsonText(value: unknown, root: string): string {
  // The common case, valid JSON, pays for one native stringify and one quick scan; only a
  // bad value pays for the walk that names its path.
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined; // a cycle or a BigInt: the walk below names it
  }
  if (text !== undefined && isPlainJson(value, '') && !mayHoldUnstorableText(text)) return text;
  explain(value, root);
  if (text === undefined) fail(root, 'it has no JSON form');
  return text;
}

/**
 * JSON.stringify escapes U+0000 and unpaired surrogates (backslash, u0000 or udxxx), so
 * text without either escape holds neither. A string with a literal backslash before
 * such letters also matches; the walk then clears it.
 */
function mayHoldUnstorableText(text: string): boolean {
  return text.includes('\\u0000') || text.includes('\\ud');
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why no store can hold this text, or null. */
export function unstorableText(text: string): string | null {
  if (text.includes('\0')) {
    return 'it holds the character U+0000, which PostgreSQL cannot store (refused on every store alike); remove it, or encode the value (base64, for example)';
  }
  if (UNPAIRED_SURROGATE.test(text)) {
    return 'it holds an unpaired UTF-16 surrogate, which is not Unicode text; fix the string (String.prototype.toWellFormed replaces it)';
  }
  return null;
}

/** Refuses text no store can hold (an idempotency key, an actor, a reason), naming `path`. */
export function checkStorableText(text: string, path: string): string {
  const why = unstorableText(text);
  if (why) refuse(path, why);
  return text;
}

/**
 * Text made storable as is: U+0000 and unpaired surrogates become U+FFFD. For what the
 * worker writes on its own account (error messages and codes, reasons), where refusing
 * would lose the outcome itself.
 */
export function storableText(text: string): string {
  if (unstorableText(text) === null) return text;
  return text.replaceAll('\0', '\uFFFD').replace(new RegExp(UNPAIRED_SURROGATE, 'g'), '\uFFFD');
}

/**
 * True when JSON.stringify drops or changes nothing. Assumes no cycles (stringify passed).
 * `key` is what JSON.stringify passes to a toJSON method.
 */
function isPlainJson(value: unknown, key: string): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        // a hole reads as undefined here, and so is refused
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], String(i))) return false;
        return true;
      }
      if (value instanceof Date) return !Number.isNaN(value.getTime());
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const json = (toJSON as (key: string) => unknown).call(value, key);
        return json !== value && isPlainJson(json, key);
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in value)
        if (!isPlainJson((value as Record<string, unknown>)[k], k)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** Throws the ValidationError naming the first value JSON would refuse or change. */
function explain(value: unknown, root: string): void {
  const seen = new Set<object>();
  const check = (v: unknown, path: string, key: string): void => {
    switch (typeof v) {
      case 'string': {
        const why = unstorableText(v);
        if (why) refuse(path, why);
        return;
      }
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(v)) fail(path, `${String(v)} is not a JSON number`);
        return;
      case 'undefined':
        fail(path, 'undefined is not JSON; omit the field or use null');
        return;
      case 'bigint':
        fail(path, 'a BigInt is not JSON; send it as a string');
        return;
      case 'function':
      case 'symbol':
        fail(path, `a ${typeof v} is not JSON`);
        return;
      case 'object': {
        if (v === null) return;
        if (v instanceof Date) {
          if (Number.isNaN(v.getTime()))
            fail(path, 'an invalid Date (JSON would store null); send a valid Date, or null');
          return;
        }
        if (seen.has(v)) fail(path, 'the value refers to itself (a cycle)');
        seen.add(v);
        const toJSON = (v as { toJSON?: unknown }).toJSON;
        const json =
          typeof toJSON === 'function' ? (toJSON as (key: string) => unknown).call(v, key) : v;
        if (json === undefined) {
          fail(path, 'its toJSON() returns undefined (JSON would drop it); return a value');
        } else if (json !== v) {
          check(json, path, key);
        } else if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            if (!(i in v)) {
              fail(
                `${path}[${i}]`,
                'a hole in a sparse array (JSON would store null); fill it, with null for example',
              );
            }
            check(v[i], `${path}[${i}]`, String(i));
          }
        } else {
          const proto = Object.getPrototypeOf(v) as unknown;
          if (proto !== Object.prototype && proto !== null) {
            fail(path, `a ${v.constructor?.name ?? 'class'} instance is not plain JSON`);
          }
          for (const [k, item] of Object.entries(v)) {
            const why = unstorableText(k);
            if (why) refuse(`${path}.${k}`, `the key: ${why}`);
            check(item, `${path}.${k}`, k);
          }
        }
        seen.delete(v);
        return;
      }
    }
  };
  check(value, root, '');
}

function refuse(path: string, why: string): never {
  throw new ValidationError(`${path} cannot be stored: ${why}`, path);
}

function fail(path: string, why: string): never {
  throw new ValidationError(`${path} is not JSON-serialisable: ${why}`, path);
}
