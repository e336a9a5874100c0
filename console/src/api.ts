/**
 * Talking to the console's API: every request goes to `${base}/api/...` with the
 * credentials the user gave (kept in sessionStorage, sent as the Authorization header).
 * A refusal is thrown as an ApiError carrying the problem+json the server sent, so the
 * page can show its `detail`; a 401 also tells the app to ask for credentials again.
 */
import type { Problem } from './types';

const CREDENTIALS_KEY = 'dispatchbox.authorization';

/** The path the server is mounted at: from its <meta>, else from where the page is. */
export function basePath(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="dispatchbox-base"]');
  const given = meta?.content.trim();
  const base = given || location.pathname.replace(/\/(index\.html)?$/, '');
  return base.replace(/\/+$/, '');
}

export function apiUrl(path: string): string {
  return `${basePath()}/api${path}`;
}

export function authorization(): string | null {
  return sessionStorage.getItem(CREDENTIALS_KEY);
}

export function bearer(token: string): string {
  return `Bearer ${token.trim()}`;
}

export function basic(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

export function signIn(header: string): void {
  sessionStorage.setItem(CREDENTIALS_KEY, header);
}

export function signOut(): void {
  sessionStorage.removeItem(CREDENTIALS_KEY);
  notifyUnauthorized();
}

const unauthorizedListeners = new Set<() => void>();

/** Called whenever the server answers 401: the app shows the sign-in form. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function notifyUnauthorized(): void {
  for (const listener of unauthorizedListeners) listener();
}

/** A refusal by the server (or no answer at all): `problem.detail` says why. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'ApiError';
  }
  get status(): number {
    return this.problem.status;
  }
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const auth = authorization();
  return { Accept: 'application/json', ...(auth ? { Authorization: auth } : {}), ...extra };
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError({
      type: 'about:blank',
      title: 'NetworkError',
      status: 0,
      detail: `The console's server did not answer (${String(error)}); check that it is running.`,
    });
  }
  if (response.status === 401) notifyUnauthorized();
  const text = await response.text();
  const json = parse(text);
  if (!response.ok) throw new ApiError(asProblem(response, json, text));
  return json as T;
}

function parse(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function asProblem(response: Response, json: unknown, text: string): Problem {
  if (json && typeof json === 'object' && 'detail' in json) return json as Problem;
  return {
    type: 'about:blank',
    title: response.statusText || 'Error',
    status: response.status,
    detail: text.slice(0, 300) || `The server answered ${response.status}.`,
  };
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
};

/** A query string from the set fields only (empty ones are left out), with its '?'. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The message to show for anything a request threw. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail;
  return error instanceof Error ? error.message : String(error);
}
