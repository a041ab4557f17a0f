import { type FormEvent, useEffect, useState } from 'react';
import {
  ConfirmButton,
  describe,
  ErrorText,
  formatTime,
  Loading,
  Notice,
  splitList,
  useLoad,
} from '../components/common';
import { UsageView } from '../components/usage';
import { normalizeRate, rateError } from '../money';
import { useSession } from '../session';
import type { Host, QueueStatus, Rate } from '../types';

export function RatesPage() {
  const { api } = useSession();
  const rates = useLoad((signal) => api.get<Rate[]>('/admin/rates', signal), []);
  const [model, setModel] = useState('');
  const [input, setInput] = useState('');
  const [output, setOutput] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const inputError = input ? rateError(input) : null;
  const outputError = output ? rateError(output) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    const m = model.trim();
    if (!m) return setError('Enter a model name');
    const problem = rateError(input) ?? rateError(output);
    if (problem) return setError(problem);
    setBusy(true);
    try {
      // Rates go out as strings: the server keeps them as exact decimals.
      const saved = await api.request<Rate>(`/admin/rates/${encodeURIComponent(m)}`, {
        method: 'PUT',
        body: { input_rate: input.trim(), output_rate: output.trim() },
      });
      setNotice(
        `Saved ${saved.model}: ${normalizeRate(saved.input_rate)} / ${normalizeRate(saved.output_rate)} cents per token.`,
      );
      rates.reload();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h2>Rates</h2>
      <section className="card">
        <h3>Set a rate</h3>
        <p className="hint">Cents per token, exact decimals (e.g. 0.015). Credits = cents ÷ 0.0001.</p>
        <form className="grid-form" onSubmit={submit} aria-label="Set rate">
          <label>
            Model
            <input value={model} onChange={(e) => setModel(e.target.value)} maxLength={200} />
          </label>
          <label>
            Input rate
            <input
              value={input}
              onChange={(e) => setInput(e.target.value)}
              inputMode="decimal"
              aria-invalid={!!inputError}
            />
            {inputError && <span className="field-error">{inputError}</span>}
          </label>
          <label>
            Output rate
            <input
              value={output}
              onChange={(e) => setOutput(e.target.value)}
              inputMode="decimal"
              aria-invalid={!!outputError}
            />
            {outputError && <span className="field-error">{outputError}</span>}
          </label>
          <ErrorText error={error} />
          <Notice text={notice} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save rate'}
            </button>
          </div>
        </form>
      </section>
      <section className="card">
        <ErrorText error={rates.error} />
        {rates.loading && !rates.data && <Loading what="rates" />}
        {rates.data && (
          <table className="table" aria-label="Rates">
            <thead>
              <tr>
                <th>Model</th>
                <th className="num">Input (¢/token)</th>
                <th className="num">Output (¢/token)</th>
                <th>Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rates.data.map((r) => (
                <tr key={r.model}>
                  <td>{r.model}</td>
                  <td className="num">{normalizeRate(r.input_rate)}</td>
                  <td className="num">{normalizeRate(r.output_rate)}</td>
                  <td>{formatTime(r.updated_at)}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() => {
                        setModel(r.model);
                        setInput(normalizeRate(r.input_rate));
                        setOutput(normalizeRate(r.output_rate));
                      }}
                    >
                      Edit
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export function HostsPage() {
  const { api } = useSession();
  const hosts = useLoad((signal) => api.get<Host[]>('/admin/hosts', signal), []);
  const { reload } = hosts;
  // Live status: the registry checks hosts every few seconds.
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, [reload]);
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [provider, setProvider] = useState<'ollama' | 'openai'>('ollama');
  const [models, setModels] = useState('');
  const [maxConcurrency, setMaxConcurrency] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const register = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!name.trim() || !baseUrl.trim()) return setError('Enter a name and a base URL');
    if (maxConcurrency && !/^[1-9][0-9]{0,4}$/.test(maxConcurrency))
      return setError('Max concurrency: a whole number of at least 1');
    setBusy(true);
    try {
      await api.request('/admin/hosts', {
        method: 'POST',
        body: {
          name: name.trim(),
          base_url: baseUrl.trim(),
          provider,
          models: splitList(models),
          ...(maxConcurrency ? { max_concurrency: Number(maxConcurrency) } : {}),
        },
      });
      setName('');
      setBaseUrl('');
      setModels('');
      setMaxConcurrency('');
      reload();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const patch = async (host: Host, body: Partial<Host>) => {
    setActionError(null);
    try {
      await api.request(`/admin/hosts/${host.id}`, { method: 'PATCH', body });
      reload();
    } catch (err) {
      setActionError(describe(err));
    }
  };

  return (
    <>
      <h2>GPU hosts</h2>
      <section className="card">
        <h3>Register a host</h3>
        <form className="grid-form" onSubmit={register} aria-label="Register host">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
          </label>
          <label>
            Base URL
            <input
              value={baseUrl}
              onChange={(e) => setBaseUrl(e.target.value)}
              placeholder="http://10.0.0.5:11434"
            />
          </label>
          <label>
            Protocol
            <select value={provider} onChange={(e) => setProvider(e.target.value as 'ollama' | 'openai')}>
              <option value="ollama">Ollama</option>
              <option value="openai">OpenAI-compatible</option>
            </select>
          </label>
          <label>
            Models (empty: those it lists)
            <input value={models} onChange={(e) => setModels(e.target.value)} />
          </label>
          <label>
            Max concurrency
            <input
              value={maxConcurrency}
              onChange={(e) => setMaxConcurrency(e.target.value)}
              inputMode="numeric"
              placeholder="16"
            />
          </label>
          <ErrorText error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Registering…' : 'Register host'}
            </button>
          </div>
        </form>
      </section>
      <section className="card">
        <ErrorText error={hosts.error ?? actionError} />
        {hosts.loading && !hosts.data && <Loading what="hosts" />}
        {hosts.data && hosts.data.length === 0 && <p className="empty">No hosts registered.</p>}
        {hosts.data && hosts.data.length > 0 && (
          <table className="table" aria-label="Hosts">
            <thead>
              <tr>
                <th>Host</th>
                <th>Status</th>
                <th>Models (discovered)</th>
                <th className="num">In flight</th>
                <th>Last check</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {hosts.data.map((h) => (
                <tr key={h.id} data-host={h.name}>
                  <td>
                    <strong>{h.name}</strong>
                    <div className="hint">
                      {h.provider} · {h.base_url}
                    </div>
                  </td>
                  <td>
                    <span className={`state state-${h.status}`} data-testid="host-status">
                      {h.status}
                    </span>
                    {!h.enabled && <span className="tag">disabled</span>}
                    {h.draining && <span className="tag">draining</span>}
                    {h.last_error && <div className="hint">{h.last_error}</div>}
                  </td>
                  <td data-testid="host-models">
                    {h.discovered_models.map((m) => `${m.name}${m.warm ? ' (warm)' : ''}`).join(', ') || '—'}
                  </td>
                  <td className="num">
                    {h.in_flight} / {h.max_concurrency}
                  </td>
                  <td>{formatTime(h.last_check)}</td>
                  <td className="row-actions">
                    <button type="button" onClick={() => patch(h, { draining: !h.draining })}>
                      {h.draining ? 'Undrain' : 'Drain'}
                    </button>
                    <button type="button" onClick={() => patch(h, { enabled: !h.enabled })}>
                      {h.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <ConfirmButton
                      label="Remove"
                      question={`Remove host ${h.name}? Requests running on it finish; no new ones are sent.`}
                      confirm="Yes, remove"
                      onConfirm={async () => {
                        await api.request(`/admin/hosts/${h.id}`, { method: 'DELETE' });
                        reload();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export function QueuePage() {
  const { api } = useSession();
  const status = useLoad((signal) => api.get<QueueStatus>('/admin/queue', signal), []);
  const { reload } = status;
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, [reload]);
  return (
    <>
      <h2>Queue</h2>
      <ErrorText error={status.error} />
      {status.loading && !status.data && <Loading what="the queue" />}
      {status.data && (
        <>
          <section className="card">
            <table className="table" aria-label="Queue depth">
              <thead>
                <tr>
                  <th>Queue</th>
                  <th className="num">Waiting</th>
                  <th className="num">Active</th>
                  <th className="num">Delayed</th>
                  <th className="num">Failed (kept)</th>
                  <th className="num">Completed (kept)</th>
                </tr>
              </thead>
              <tbody>
                {status.data.queues.map((q) => (
                  <tr key={q.name}>
                    <td>{q.name}</td>
                    <td className="num">{q.waiting}</td>
                    <td className="num">{q.active}</td>
                    <td className="num">{q.delayed}</td>
                    <td className="num">{q.failed}</td>
                    <td className="num">{q.completed}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section className="card">
            <h3>Recent failures</h3>
            {status.data.recent_failures.length === 0 ? (
              <p className="empty">No failed tasks.</p>
            ) : (
              <table className="table" aria-label="Failed tasks">
                <thead>
                  <tr>
                    <th>Task</th>
                    <th>Model</th>
                    <th>Error</th>
                    <th className="num">Attempts</th>
                    <th>Finished</th>
                  </tr>
                </thead>
                <tbody>
                  {status.data.recent_failures.map((f) => (
                    <tr key={f.id}>
                      <td>
                        <code>{f.id}</code>
                      </td>
                      <td>{f.model}</td>
                      <td>{f.error ?? '—'}</td>
                      <td className="num">{f.attempts}</td>
                      <td>{formatTime(f.finished_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </>
  );
}

export function AdminUsagePage() {
  return (
    <>
      <h2>Usage and spend</h2>
      <UsageView path="/admin/usage" groups={['model', 'user', 'key', 'host']} />
    </>
  );
}
