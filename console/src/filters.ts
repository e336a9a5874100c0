/** The commands filter: the same query parameters in the page's URL and in the API's. */
export const FILTER_KEYS = [
  'state',
  'domain',
  'type',
  'errorCode',
  'batchId',
  'correlationId',
  'causationId',
  'createdAfter',
  'createdBefore',
  'text',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filter = Partial<Record<FilterKey, string>>;

export function filterFrom(params: URLSearchParams): Filter {
  const filter: Filter = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key)?.trim();
    if (value) filter[key] = value;
  }
  return filter;
}

/** An ISO time as a datetime-local input shows it (local time, to the minute). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local input's value as ISO text (with its zone), or undefined when empty. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
