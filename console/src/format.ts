/** How numbers and times are shown. */
const integer = new Intl.NumberFormat('en');

export function count(n: number): string {
  return integer.format(n);
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction > 0 && fraction < 0.001 ? 3 : 1)} %`;
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** 42 s, 3 min, 5 h, 2 d. */
export function age(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function ago(iso: string): string {
  return `${age(Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000))} ago`;
}

export function json(value: unknown): string {
  return value === undefined ? '—' : JSON.stringify(value, null, 2);
}

export function stateLabel(state: string): string {
  return state.replace('_', ' ');
}

/** The end of an id: UUIDv7s share their time-ordered start, so the end tells them apart. */
export function shortId(id: string): string {
  return id.length > 12 ? `…${id.slice(-12)}` : id;
}
