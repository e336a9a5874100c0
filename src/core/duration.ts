import ms from 'ms';
import { ValidationError } from './errors.js';

/** A duration: milliseconds as a number, or text such as '500ms', '10s', '1m', '2h'. */
export type Duration = number | string;

/** Turns a Duration into milliseconds, or throws a ValidationError that names `path`. */
export function toMillis(value: Duration, path: string): number {
  const millis = typeof value === 'number' ? value : ms(value as ms.StringValue);
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis < 0) {
    throw new ValidationError(
      `${path} must be a non-negative number of milliseconds or a duration such as '500ms', '10s', '1m'; got ${JSON.stringify(value)}`,
      path,
    );
  }
  return Math.round(millis);
}
