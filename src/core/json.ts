import { ValidationError } from './errors.js';

/**
 * Serialises a payload or result, refusing what JSON would silently change or drop:
 * functions, symbols, `undefined` members, BigInt, NaN/Infinity and cycles; and text no
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
  if (text !== undefined && isPlainJson(value) && !mayHoldUnstorableText(text)) return text;
  explain(value, root);
  return text ?? JSON.stringify(value);
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
function unstorableText(text: string): string | null {
  if (text.includes('\0')) {
    return "it holds the character U+0000, which PostgreSQL's jsonb cannot hold (refused on every store alike); remove it, or encode the value (base64, for example)";
  }
  if (UNPAIRED_SURROGATE.test(text)) {
    return 'it holds an unpaired UTF-16 surrogate, which is not Unicode text; fix the string (String.prototype.toWellFormed replaces it)';
  }
  return null;
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

/** True when JSON.stringify drops or changes nothing. Assumes no cycles (stringify passed). */
function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (const item of value) if (!isPlainJson(item)) return false;
        return true;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return true;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value)
        if (!isPlainJson((value as Record<string, unknown>)[key])) return false;
      return true;
    }
    default:
      return false;
  }
}

/** Throws the ValidationError naming the first value JSON would refuse or change. */
function explain(value: unknown, root: string): void {
  const seen = new Set<object>();
  const check = (v: unknown, path: string): void => {
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
        if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return; // Date and friends
        if (seen.has(v)) fail(path, 'the value refers to itself (a cycle)');
        seen.add(v);
        if (Array.isArray(v)) v.forEach((item, i) => check(item, `${path}[${i}]`));
        else {
          const proto = Object.getPrototypeOf(v) as unknown;
          if (proto !== Object.prototype && proto !== null) {
            fail(
              path,
              `a ${(v as object).constructor?.name ?? 'class'} instance is not plain JSON`,
            );
          }
          for (const [key, item] of Object.entries(v)) {
            const why = unstorableText(key);
            if (why) refuse(`${path}.${key}`, `the key: ${why}`);
            check(item, `${path}.${key}`);
          }
        }
        seen.delete(v);
        return;
      }
    }
  };
  check(value, root);
}

function refuse(path: string, why: string): never {
  throw new ValidationError(`${path} cannot be stored: ${why}`, path);
}

function fail(path: string, why: string): never {
  throw new ValidationError(`${path} is not JSON-serialisable: ${why}`, path);
}
