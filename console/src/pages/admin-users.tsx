import { type FormEvent, useState } from 'react';
import { newIdempotencyKey } from '../api';
import { ErrorText, Link, Loading, Notice, describe, useLoad } from '../components/common';
import { type KeyInput, KeyForm, KeyTable } from '../components/keys';
import { LedgerTable, RequestsTable } from '../components/records';
import { creditsToDollars, formatCredits, MAX_TOP_UP, parsePositiveCredits, topUpBody } from '../money';
import { navigate } from '../router';
import { useSession } from '../session';
import type { ApiKey, CreatedKey, User } from '../types';

export function UsersPage() {
  const { api } = useSession();
  const users = useLoad((signal) => api.get<User[]>('/admin/users', signal), []);
  const [search, setSearch] = useState('');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Enter a name');
    setBusy(true);
    try {
      const user = await api.request<User>('/admin/users', {
        method: 'POST',
        body: { name: name.trim(), email: email.trim() || undefined, role },
      });
      navigate(`/admin/users/${user.id}`);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const needle = search.trim().toLowerCase();
  const shown = (users.data ?? []).filter(
    (u) =>
      !needle ||
      u.name.toLowerCase().includes(needle) ||
      (u.email ?? '').toLowerCase().includes(needle) ||
      u.id.startsWith(needle),
  );
  return (
    <>
      <h2>Users</h2>
      <section className="card">
        <h3>New user</h3>
        <form className="grid-form" onSubmit={create} aria-label="New user">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
          </label>
          <label>
            Email (optional)
            <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value as 'user' | 'admin')}>
              <option value="user">user</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <ErrorText error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create user'}
            </button>
          </div>
        </form>
      </section>
      <section className="card">
        <div className="toolbar">
          <label>
            Search
            <input
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder="name, email or id"
              aria-label="Search users"
            />
          </label>
        </div>
        <ErrorText error={users.error} />
        {users.loading && !users.data && <Loading what="users" />}
        {users.data && (
          <table className="table" aria-label="Users">
            <thead>
              <tr>
                <th>Name</th>
                <th>Email</th>
                <th>Role</th>
                <th className="num">Balance (credits)</th>
                <th className="num">≈ USD</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link to={`/admin/users/${u.id}`}>{u.name}</Link>
                  </td>
                  <td>{u.email ?? '—'}</td>
                  <td>{u.role}</td>
                  <td className="num">{formatCredits(u.credits)}</td>
                  <td className="num">{creditsToDollars(u.credits)}</td>
                  <td>{u.disabled ? 'disabled' : 'active'}</td>
                </tr>
              ))}
              {shown.length === 0 && (
                <tr>
                  <td colSpan={6} className="empty">
                    No users match.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export function UserPage({ id }: { id: string }) {
  const { api } = useSession();
  const [version, setVersion] = useState(0);
  const user = useLoad((signal) => api.get<User>(`/admin/users/${id}`, signal), [id, version]);
  const keys = useLoad((signal) => api.get<ApiKey[]>(`/admin/users/${id}/keys`, signal), [id]);
  const createKey = async (input: KeyInput) => {
    const created = await api.request<CreatedKey>(`/admin/users/${id}/keys`, { method: 'POST', body: input });
    keys.reload();
    return created;
  };
  return (
    <>
      <p>
        <Link to="/admin/users">← Users</Link>
      </p>
      <ErrorText error={user.error} />
      {user.loading && !user.data && <Loading what="the user" />}
      {user.data && (
        <>
          <h2>{user.data.name}</h2>
          <section className="card balance">
            <div>
              Balance <strong data-testid="balance">{formatCredits(user.data.credits)}</strong> credits (
              {creditsToDollars(user.data.credits)})
            </div>
            <div className="hint">
              {user.data.role} · {user.data.email ?? 'no email'} · id <code>{user.data.id}</code>
            </div>
          </section>
          <TopUpForm userId={id} onDone={() => setVersion((v) => v + 1)} />
        </>
      )}
      <section className="card">
        <h3>Keys</h3>
        <ErrorText error={keys.error} />
        {keys.loading && !keys.data && <Loading what="keys" />}
        {keys.data && (
          <KeyTable
            keys={keys.data}
            onRevoke={async (k) => {
              await api.request(`/admin/keys/${k.id}`, { method: 'DELETE' });
              keys.reload();
            }}
          />
        )}
      </section>
      <KeyForm onCreate={createKey} />
      <LedgerTable path={`/admin/users/${id}/ledger`} version={version} />
      <RequestsTable path={`/admin/users/${id}/requests`} />
    </>
  );
}

/**
 * A top-up form. Its Idempotency-Key is made once per form instance and kept until a top-up
 * succeeds, so a double click or a retry after a lost answer credits once.
 */
export function TopUpForm({ userId, onDone }: { userId: string; onDone: () => void }) {
  const { api } = useSession();
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    const credits = parsePositiveCredits(amount);
    if (credits === null) return setError('Enter a whole number of credits, at least 1');
    if (credits > MAX_TOP_UP) return setError(`At most ${formatCredits(MAX_TOP_UP)} credits per top-up`);
    setBusy(true);
    try {
      const result = await api.request<{ credits: string; entry_id: string }>(
        `/admin/users/${userId}/credits`,
        {
          method: 'POST',
          jsonText: topUpBody(credits, reference),
          headers: { 'Idempotency-Key': idempotencyKey },
        },
      );
      setNotice(`Added ${formatCredits(credits)} credits. Balance: ${formatCredits(result.credits)}.`);
      setAmount('');
      setReference('');
      setIdempotencyKey(newIdempotencyKey());
      onDone();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card">
      <h3>Top up credits</h3>
      <form className="grid-form" onSubmit={submit} aria-label="Top up">
        <label>
          Credits
          <input
            value={amount}
            onChange={(e) => setAmount(e.target.value)}
            inputMode="numeric"
            placeholder="1,000,000 = $1"
          />
        </label>
        <label>
          Reference (optional)
          <input value={reference} onChange={(e) => setReference(e.target.value)} maxLength={500} />
        </label>
        <ErrorText error={error} />
        <Notice text={notice} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add credits'}
          </button>
        </div>
      </form>
    </section>
  );
}
