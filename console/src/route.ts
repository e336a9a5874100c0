/**
 * Hash routing: `#/commands?state=troubleshooting&domain=x`. The whole view (page and
 * filters) lives in the URL, so a view can be bookmarked and shared, and the server only
 * ever serves one page.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** The path's parts: ['commands', '<id>'] for #/commands/<id>. */
  parts: string[];
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#/, '') || '/overview';
  const [path = '', search = ''] = hash.split('?', 2);
  const parts = path
    .split('/')
    .filter(Boolean)
    .map((part) => decodeURIComponent(part));
  return { parts, params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** The href of a page: href('commands', { state: 'pending' }) → '#/commands?state=pending'. */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return `#/${path}${text ? `?${text}` : ''}`;
}

export function commandHref(id: string): string {
  return `#/commands/${encodeURIComponent(id)}`;
}

export function navigate(to: string): void {
  location.hash = to.replace(/^#/, '');
}
