import { type FormEvent, useRef, useState } from 'react';
import { ErrorText, Loading, describe, useLoad } from '../components/common';
import { type KeyInput, KeyForm, KeyTable } from '../components/keys';
import { LedgerTable, RequestsTable } from '../components/records';
import { UsageView } from '../components/usage';
import { creditsToDollars, formatCredits } from '../money';
import { useSession } from '../session';
import { readChatStream, type StreamUsage } from '../sse';
import type { ApiKey, CreatedKey } from '../types';

export function AccountPage() {
  const { me, refreshMe } = useSession();
  // Refresh reloads the ledger and the requests too.
  const [version, setVersion] = useState(0);
  return (
    <>
      <h2>Account</h2>
      <section className="card balance">
        <div>
          Balance <strong data-testid="balance">{formatCredits(me.credits)}</strong> credits (
          {creditsToDollars(me.credits)})
        </div>
        <div className="hint">
          Signed in as {me.name} with key <code>{me.key.prefix}…</code>
          {me.key.models.length > 0 && <> · models: {me.key.models.join(', ')}</>}
        </div>
        <button type="button" onClick={() => void refreshMe().then(() => setVersion((v) => v + 1))}>
          Refresh
        </button>
      </section>
      <LedgerTable path="/api/v1/ledger" version={version} />
      <RequestsTable path="/api/v1/requests" version={version} />
    </>
  );
}

export function OwnKeysPage() {
  const { api, me } = useSession();
  const keys = useLoad((signal) => api.get<{ data: ApiKey[] }>('/api/v1/keys', signal), []);
  const create = async (input: KeyInput) => {
    const result = await api.request<{ key: CreatedKey }>('/api/v1/keys', { method: 'POST', body: input });
    keys.reload();
    return result.key;
  };
  const limits = [
    me.key.rpm !== null && `rpm ≤ ${me.key.rpm}`,
    me.key.tpm !== null && `tpm ≤ ${me.key.tpm}`,
    me.key.models.length > 0 && `models within ${me.key.models.join(', ')}`,
    me.key.ip_whitelist.length > 0 && `addresses within ${me.key.ip_whitelist.join(', ')}`,
    me.key.expires_at && `expiring no later than ${me.key.expires_at.slice(0, 10)}`,
  ].filter(Boolean);
  return (
    <>
      <h2>My keys</h2>
      <section className="card">
        <ErrorText error={keys.error} />
        {keys.loading && !keys.data && <Loading what="keys" />}
        {keys.data && (
          <KeyTable
            keys={keys.data.data}
            currentKeyId={me.key.id}
            onRevoke={async (k) => {
              await api.request(`/api/v1/keys/${k.id}`, { method: 'DELETE' });
              keys.reload();
            }}
          />
        )}
      </section>
      <KeyForm
        onCreate={create}
        hint={`You may hold up to ${me.max_keys} live keys. A new key can do no more than the key you signed in with${
          limits.length ? `: ${limits.join('; ')}` : ''
        }.`}
      />
    </>
  );
}

export function OwnUsagePage() {
  return (
    <>
      <h2>My usage</h2>
      <UsageView path="/api/v1/usage" groups={['model', 'key', 'host']} />
    </>
  );
}

interface Turn {
  role: 'user' | 'assistant';
  content: string;
}

/** Streams a chat completion through /v1/chat/completions (SSE over fetch) with the signed-in key. */
export function PlaygroundPage() {
  const { api, me, refreshMe } = useSession();
  const models = useLoad((signal) => api.get<{ data: { id: string }[] }>('/v1/models', signal), []);
  const [model, setModel] = useState('');
  const [prompt, setPrompt] = useState('');
  const [maxTokens, setMaxTokens] = useState('256');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [answer, setAnswer] = useState('');
  const [usage, setUsage] = useState<StreamUsage | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const controller = useRef<AbortController | null>(null);
  const chosen = model || models.data?.data[0]?.id || '';

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!chosen) return setError('No model is available to this key');
    if (!prompt.trim()) return setError('Write a message first');
    if (!/^[1-9][0-9]{0,5}$/.test(maxTokens)) return setError('Max tokens: a whole number of at least 1');
    const history: Turn[] = [...turns, { role: 'user', content: prompt }];
    setTurns(history);
    setPrompt('');
    setAnswer('');
    setUsage(null);
    setRunning(true);
    const abort = new AbortController();
    controller.current = abort;
    let text = '';
    try {
      const res = await api.raw('/v1/chat/completions', {
        method: 'POST',
        body: {
          model: chosen,
          messages: history,
          max_tokens: Number(maxTokens),
          stream: true,
          stream_options: { include_usage: true },
        },
        signal: abort.signal,
      });
      if (!res.ok || !res.body) {
        const body = await res.text();
        let message = `The request failed (${res.status})`;
        try {
          message = (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          // not JSON: keep the status text
        }
        throw new Error(message);
      }
      await readChatStream(res.body, {
        onDelta: (delta) => {
          text += delta;
          setAnswer(text);
        },
        onUsage: setUsage,
      });
      setTurns([...history, { role: 'assistant', content: text }]);
      setAnswer('');
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') {
        setTurns([...history, { role: 'assistant', content: `${text} [stopped]` }]);
        setAnswer('');
      } else setError(describe(err));
    } finally {
      setRunning(false);
      controller.current = null;
      void refreshMe();
    }
  };

  return (
    <>
      <h2>Playground</h2>
      <section className="card">
        <div className="hint">
          Balance {formatCredits(me.credits)} credits · every answer is billed to this account.
        </div>
        <ErrorText error={models.error} />
        <div className="chat" aria-live="polite" data-testid="chat">
          {turns.map((t, i) => (
            <div key={i} className={`turn turn-${t.role}`}>
              <span className="who">{t.role === 'user' ? 'You' : 'Assistant'}</span>
              <p>{t.content}</p>
            </div>
          ))}
          {running && (
            <div className="turn turn-assistant">
              <span className="who">Assistant</span>
              <p data-testid="streaming">{answer || '…'}</p>
            </div>
          )}
        </div>
        {usage && (
          <p className="hint" data-testid="usage">
            {usage.prompt_tokens} input + {usage.completion_tokens} output tokens
          </p>
        )}
        <form className="grid-form" onSubmit={send} aria-label="Chat">
          <label>
            Model
            <select value={chosen} onChange={(e) => setModel(e.target.value)}>
              {(models.data?.data ?? []).map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Max tokens
            <input value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} inputMode="numeric" />
          </label>
          <label className="wide">
            Message
            <textarea value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={3} />
          </label>
          <ErrorText error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={running}>
              {running ? 'Answering…' : 'Send'}
            </button>
            {running && (
              <button type="button" onClick={() => controller.current?.abort()}>
                Stop
              </button>
            )}
            <button type="button" disabled={running || turns.length === 0} onClick={() => setTurns([])}>
              Clear
            </button>
          </div>
        </form>
      </section>
    </>
  );
}
