import { useState } from 'react';
import { query } from '../api';
import { formatCredits } from '../money';
import { useSession } from '../session';
import type { LedgerEntry, Page, RequestRecord } from '../types';
import { ErrorText, formatTime, Loading, useLoad } from './common';

/** Cursor pagination: the cursors of the pages seen, so "Newer" goes back exactly. */
function useCursorPages() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    older: (next: string) => setCursors((c) => [...c, next]),
    newer: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    first: () => setCursors([undefined]),
  };
}

/** `path` is /admin/users/:id/ledger or /api/v1/ledger (own). */
export function LedgerTable({ path, version = 0 }: { path: string; version?: number }) {
  const { api } = useSession();
  const pages = useCursorPages();
  const ledger = useLoad(
    (signal) => api.get<Page<LedgerEntry>>(`${path}${query({ limit: 20, cursor: pages.cursor })}`, signal),
    [path, pages.cursor, version],
  );
  return (
    <section className="card">
      <h3>Ledger</h3>
      <ErrorText error={ledger.error} />
      {ledger.loading && !ledger.data && <Loading what="the ledger" />}
      {ledger.data && (
        <>
          <table className="table" aria-label="Ledger">
            <thead>
              <tr>
                <th>When</th>
                <th>Kind</th>
                <th className="num">Amount</th>
                <th className="num">Balance after</th>
                <th>Reference / request</th>
              </tr>
            </thead>
            <tbody>
              {ledger.data.data.map((e) => (
                <tr key={e.id} data-kind={e.kind}>
                  <td>{formatTime(e.created_at)}</td>
                  <td>{e.kind}</td>
                  <td className="num">{formatCredits(e.amount)}</td>
                  <td className="num">{formatCredits(e.balance_after)}</td>
                  <td>{e.reference ?? e.request_id ?? '—'}</td>
                </tr>
              ))}
              {ledger.data.data.length === 0 && (
                <tr>
                  <td colSpan={5} className="empty">
                    No entries.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <Pager
            page={pages.page}
            next={ledger.data.next_cursor}
            onOlder={pages.older}
            onNewer={pages.newer}
          />
        </>
      )}
    </section>
  );
}

function Pager({
  page,
  next,
  onOlder,
  onNewer,
}: {
  page: number;
  next: string | null;
  onOlder: (cursor: string) => void;
  onNewer: () => void;
}) {
  return (
    <div className="pager">
      <button type="button" disabled={page === 1} onClick={onNewer}>
        ← Newer
      </button>
      <span>Page {page}</span>
      <button type="button" disabled={!next} onClick={() => next && onOlder(next)}>
        Older →
      </button>
    </div>
  );
}

/** Recent requests from usage_records: `path` is /api/v1/requests (own) or /admin/users/:id/requests. */
export function RequestsTable({ path, version = 0 }: { path: string; version?: number }) {
  const { api } = useSession();
  const pages = useCursorPages();
  const requests = useLoad(
    async (signal) => {
      const page = await api.get<Page<RequestRecord>>(
        `${path}${query({ limit: 20, cursor: pages.cursor })}`,
        signal,
      );
      return page;
    },
    [path, pages.cursor, version],
  );
  return (
    <section className="card">
      <h3>Recent requests</h3>
      <ErrorText error={requests.error} />
      {requests.loading && !requests.data && <Loading what="requests" />}
      {requests.data && (
        <>
          <table className="table" aria-label="Recent requests">
            <thead>
              <tr>
                <th>When</th>
                <th>Model</th>
                <th>Surface</th>
                <th>Host</th>
                <th>Status</th>
                <th className="num">Tokens in / out</th>
                <th className="num">Credits</th>
                <th className="num">Duration</th>
              </tr>
            </thead>
            <tbody>
              {requests.data.data.map((r) => (
                <tr key={r.id}>
                  <td>{formatTime(r.created_at)}</td>
                  <td>{r.model}</td>
                  <td>{r.surface}</td>
                  <td>{r.host_name ?? '—'}</td>
                  <td title={r.error ?? undefined}>{r.status}</td>
                  <td className="num">
                    {r.input_tokens} / {r.output_tokens}
                  </td>
                  <td className="num">{formatCredits(r.credits)}</td>
                  <td className="num">{r.duration_ms} ms</td>
                </tr>
              ))}
              {requests.data.data.length === 0 && (
                <tr>
                  <td colSpan={8} className="empty">
                    No requests yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <Pager
            page={pages.page}
            next={requests.data.next_cursor}
            onOlder={pages.older}
            onNewer={pages.newer}
          />
        </>
      )}
    </section>
  );
}
