import { type FormEvent, useState } from 'react';
import type { ApiKey, CreatedKey } from '../types';
import { ConfirmButton, describe, ErrorText, formatTime, splitList } from './common';

export interface KeyInput {
  name?: string;
  ip_whitelist?: string[];
  models?: string[];
  rpm?: number;
  tpm?: number;
  expires_at?: string;
}

function positiveInt(text: string, field: string): number | undefined {
  if (text.trim() === '') return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(text.trim())) throw new Error(`${field}: a whole number of at least 1`);
  return Number(text.trim());
}

/** The create-key form; the new key's plaintext is shown once, by NewKey, until the page changes. */
export function KeyForm({
  onCreate,
  hint,
}: {
  onCreate: (input: KeyInput) => Promise<CreatedKey>;
  hint?: string;
}) {
  const [name, setName] = useState('');
  const [ips, setIps] = useState('');
  const [models, setModels] = useState('');
  const [rpm, setRpm] = useState('');
  const [tpm, setTpm] = useState('');
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    let input: KeyInput;
    try {
      input = {
        name: name.trim() || undefined,
        ip_whitelist: splitList(ips),
        models: splitList(models),
        rpm: positiveInt(rpm, 'Requests per minute'),
        tpm: positiveInt(tpm, 'Tokens per minute'),
        expires_at: expires ? new Date(`${expires}T23:59:59Z`).toISOString() : undefined,
      };
    } catch (err) {
      setError(describe(err));
      return;
    }
    setBusy(true);
    try {
      setCreated(await onCreate(input));
      setName('');
      setIps('');
      setModels('');
      setRpm('');
      setTpm('');
      setExpires('');
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card">
      <h3>New key</h3>
      {hint && <p className="hint">{hint}</p>}
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      <form onSubmit={submit} className="grid-form" aria-label="New key">
        <label>
          Name
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="laptop"
            maxLength={200}
          />
        </label>
        <label>
          IP whitelist
          <input
            value={ips}
            onChange={(e) => setIps(e.target.value)}
            placeholder="203.0.113.7, 10.0.0.0/8 (empty: any)"
          />
        </label>
        <label>
          Models
          <input
            value={models}
            onChange={(e) => setModels(e.target.value)}
            placeholder="llama3.1 (empty: all)"
          />
        </label>
        <label>
          Requests / minute
          <input
            value={rpm}
            onChange={(e) => setRpm(e.target.value)}
            inputMode="numeric"
            placeholder="no limit"
          />
        </label>
        <label>
          Tokens / minute
          <input
            value={tpm}
            onChange={(e) => setTpm(e.target.value)}
            inputMode="numeric"
            placeholder="no limit"
          />
        </label>
        <label>
          Expires (end of day, UTC)
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
        <ErrorText error={error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>
    </section>
  );
}

/** The plaintext, once: it lives in this component's state only and is gone once dismissed or left. */
export function NewKey({ created, onDone }: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="new-key" role="status">
      <p>
        <strong>Copy this key now.</strong> It is shown only once; the platform stores only its hash.
      </p>
      <code className="secret" data-testid="new-key">
        {created.key}
      </code>
      <div className="actions">
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(created.key).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" onClick={onDone}>
          I have saved it
        </button>
      </div>
    </div>
  );
}

export function keyState(k: ApiKey): string {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && new Date(k.expires_at) <= new Date()) return 'expired';
  return 'active';
}

export function KeyTable({
  keys,
  onRevoke,
  currentKeyId,
}: {
  keys: ApiKey[];
  onRevoke: (k: ApiKey) => Promise<void>;
  currentKeyId?: string;
}) {
  if (keys.length === 0) return <p className="empty">No keys yet.</p>;
  return (
    <table className="table" aria-label="Keys">
      <thead>
        <tr>
          <th>Key</th>
          <th>Name</th>
          <th>Models</th>
          <th>IP whitelist</th>
          <th>rpm / tpm</th>
          <th>Expires</th>
          <th>Last used</th>
          <th>State</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k.id}>
            <td>
              <code>{k.prefix}…</code>
              {k.id === currentKeyId && <span className="tag">this session</span>}
            </td>
            <td>{k.name ?? '—'}</td>
            <td>{k.models.length ? k.models.join(', ') : 'all'}</td>
            <td>{k.ip_whitelist.length ? k.ip_whitelist.join(', ') : 'any'}</td>
            <td>
              {k.rpm ?? '∞'} / {k.tpm ?? '∞'}
            </td>
            <td>{formatTime(k.expires_at)}</td>
            <td>{formatTime(k.last_used_at)}</td>
            <td>
              <span className={`state state-${keyState(k)}`}>{keyState(k)}</span>
            </td>
            <td>
              {!k.revoked_at && (
                <ConfirmButton
                  label="Revoke"
                  question={`Revoke key ${k.prefix}…${k.name ? ` (${k.name})` : ''}? Requests with it will be refused within seconds. This cannot be undone.`}
                  confirm="Yes, revoke"
                  onConfirm={() => onRevoke(k)}
                />
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
