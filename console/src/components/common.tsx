import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { ApiFailure } from '../api';
import { navigate, BASE } from '../router';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload(): void;
}

/** Loads `load()` on mount and whenever `deps` change; a newer load wins over an older one. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    // Marked loading from a microtask: a reload keeps the old data on screen meanwhile.
    Promise.resolve()
      .then(() => {
        if (!signal.aborted) setState((s) => ({ ...s, loading: true }));
        return loadRef.current(signal);
      })
      .then(
        (data) => !signal.aborted && setState({ data, error: null, loading: false }),
        (error: unknown) =>
          !signal.aborted && setState((s) => ({ ...s, error: describe(error), loading: false })),
      );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function describe(error: unknown): string {
  if (error instanceof ApiFailure) return error.message;
  if (error instanceof Error) return error.message;
  return 'Something went wrong';
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorText({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p className="notice" role="status">
      {text}
    </p>
  );
}

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return (
    <a
      className={className}
      href={`${BASE}${to}`}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** A button that asks first: the action runs only after "Yes, …" in the dialog. */
export function ConfirmButton({
  label,
  question,
  confirm,
  onConfirm,
  danger = true,
}: {
  label: string;
  question: string;
  confirm: string;
  onConfirm: () => Promise<void>;
  danger?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button type="button" className={danger ? 'danger' : undefined} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <div className="modal-backdrop">
          <div className="modal" role="dialog" aria-modal="true" aria-label={question}>
            <p>{question}</p>
            <ErrorText error={error} />
            <div className="actions">
              <button
                type="button"
                className={danger ? 'danger' : 'primary'}
                disabled={busy}
                onClick={async () => {
                  setBusy(true);
                  setError(null);
                  try {
                    await onConfirm();
                    setOpen(false);
                  } catch (e) {
                    setError(describe(e));
                  } finally {
                    setBusy(false);
                  }
                }}
              >
                {busy ? 'Working…' : confirm}
              </button>
              <button type="button" disabled={busy} onClick={() => setOpen(false)}>
                Cancel
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}

export function formatTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

/** Splits "a, b\nc" into ["a", "b", "c"]. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Downloads text as a file, from memory (a blob: URL of this origin; no request). */
export function downloadText(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
