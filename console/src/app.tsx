import { type FormEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient } from './api';
import { describe, ErrorText, Link } from './components/common';
import { AdminUsagePage, HostsPage, QueuePage, RatesPage } from './pages/admin-platform';
import { UserPage, UsersPage } from './pages/admin-users';
import { AccountPage, OwnKeysPage, OwnUsagePage, PlaygroundPage } from './pages/user';
import { match, navigate, useRoute } from './router';
import { keyStore, type Session, SessionContext } from './session';
import type { Me, Role } from './types';

const ADMIN_NAV = [
  ['/admin/users', 'Users'],
  ['/admin/rates', 'Rates'],
  ['/admin/hosts', 'GPU hosts'],
  ['/admin/queue', 'Queue'],
  ['/admin/usage', 'Usage'],
] as const;
const USER_NAV = [
  ['/account', 'Account'],
  ['/keys', 'Keys'],
  ['/usage', 'Usage'],
  ['/playground', 'Playground'],
] as const;

const home = (role: Role) => (role === 'admin' ? '/admin/users' : '/account');

async function loadMe(api: ApiClient): Promise<Me> {
  const me = await api.get<Me & { success: boolean }>('/api/v1/me');
  return me;
}

export function App() {
  const [key, setKey] = useState<string | null>(keyStore.load);
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);
  const api = useMemo(() => (key ? new ApiClient(key) : null), [key]);

  const signOut = useCallback(() => {
    keyStore.clear();
    setKey(null);
    setMe(null);
    navigate('/');
  }, []);

  useEffect(() => {
    if (!api) return;
    loadMe(api).then(setMe, (e: unknown) => {
      keyStore.clear();
      setKey(null);
      setError(describe(e));
    });
  }, [api]);

  const refreshMe = useCallback(async () => {
    if (api) setMe(await loadMe(api));
  }, [api]);

  if (!key || !api)
    return <SignIn error={error} onSignIn={(k) => (keyStore.save(k), setError(null), setKey(k))} />;
  if (!me) return <p className="loading page-loading">Signing in…</p>;
  const session: Session = { api, me, refreshMe, signOut };
  return (
    <SessionContext.Provider value={session}>
      <Shell me={me} onSignOut={signOut} />
    </SessionContext.Provider>
  );
}

function SignIn({ onSignIn, error }: { onSignIn: (key: string) => void; error: string | null }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onSignIn(value.trim());
  };
  return (
    <main className="signin">
      <h1>LlmEndpoint console</h1>
      <form onSubmit={submit} className="card" aria-label="Sign in">
        <label>
          API key
          <input
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="sk-le-…"
            autoFocus
          />
        </label>
        <p className="hint">
          Admin keys open the admin console; user keys open their own account. The key stays in this tab only.
        </p>
        <ErrorText error={error} />
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function Shell({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const route = useRoute();
  const isAdminRoute = route.startsWith('/admin');
  const nav = me.role === 'admin' ? ADMIN_NAV : USER_NAV;
  useEffect(() => {
    if (route === '/') navigate(home(me.role));
  }, [route, me.role]);

  let page: React.ReactNode;
  if (isAdminRoute && me.role !== 'admin') {
    page = (
      <section className="card">
        <h2>Not available</h2>
        <p className="error" role="alert">
          This page is for admins. Your key is a user key: it sees your own account only.
        </p>
        <Link to="/account">Go to your account</Link>
      </section>
    );
  } else {
    const user = match('/admin/users/:id', route);
    page =
      route === '/admin/users' ? (
        <UsersPage />
      ) : user ? (
        <UserPage id={user.id ?? ''} />
      ) : route === '/admin/rates' ? (
        <RatesPage />
      ) : route === '/admin/hosts' ? (
        <HostsPage />
      ) : route === '/admin/queue' ? (
        <QueuePage />
      ) : route === '/admin/usage' ? (
        <AdminUsagePage />
      ) : route === '/account' ? (
        <AccountPage />
      ) : route === '/keys' ? (
        <OwnKeysPage />
      ) : route === '/usage' ? (
        <OwnUsagePage />
      ) : route === '/playground' ? (
        <PlaygroundPage />
      ) : route === '/' ? null : (
        <section className="card">
          <h2>Page not found</h2>
          <Link to={home(me.role)}>Back to the start</Link>
        </section>
      );
  }
  return (
    <div className="layout">
      <header className="top">
        <h1>LlmEndpoint</h1>
        <nav aria-label="Main">
          {nav.map(([to, label]) => (
            <Link key={to} to={to} className={route.startsWith(to) ? 'active' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <div className="who">
          {me.name} <span className="tag">{me.role}</span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main className="content">{page}</main>
    </div>
  );
}
