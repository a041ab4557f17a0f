import { useEffect, useState } from 'react';

/** The console's client routes live under /console; the server answers index.html for each. */
export const BASE = '/console';

export function currentRoute(): string {
  const path = window.location.pathname;
  const route = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return route === '' ? '/' : route;
}

export function navigate(route: string): void {
  if (route === currentRoute()) return;
  window.history.pushState(null, '', `${BASE}${route}`);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener('popstate', onChange);
    return () => window.removeEventListener('popstate', onChange);
  }, []);
  return route;
}

/** Matches `/admin/users/:id` style patterns; the params or null. */
export function match(pattern: string, route: string): Record<string, string> | null {
  const p = pattern.split('/');
  const r = route.split('/');
  if (p.length !== r.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const part = p[i] ?? '';
    const value = r[i] ?? '';
    if (part.startsWith(':')) {
      if (!value) return null;
      params[part.slice(1)] = decodeURIComponent(value);
    } else if (part !== value) return null;
  }
  return params;
}
