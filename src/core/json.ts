import { ValidationError } from './errors.js';

/**
 * Serialises a payload or result, refusing what JSON would silently change or drop:
 * functions, symbols, `undefined` members, BigInt, NaN/Infinity and cycles. The error
 * names the path of the first offending value so the caller can find it.
 */
export function toJsonText(value: unknown, root: string): string {
  const seen = new Set<object>();
  const check = (v: unknown, path: string): void => {
    switch (typeof v) {
      case 'string':
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
          for (const [key, item] of Object.entries(v)) check(item, `${path}.${key}`);
        }
        seen.delete(v);
        return;
      }
    }
  };
  check(value, root);
  return JSON.stringify(value);
}

function fail(path: string, why: string): never {
  throw new ValidationError(`${path} is not JSON-serialisable: ${why}`, path);
}
