import { useState } from 'react';
import { query } from '../api';
import { buildCsv } from '../csv';
import { creditsToDollars, formatCredits } from '../money';
import { useSession } from '../session';
import type { UsagePoint, UsageReport, UsageSums } from '../types';
import { downloadText, ErrorText, Loading, useLoad } from './common';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const RANGES = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30 } as const;
type RangeName = keyof typeof RANGES;
type Metric = 'credits' | 'requests' | 'tokens';

const metricOf = (s: UsageSums, metric: Metric): bigint =>
  metric === 'credits'
    ? BigInt(s.credits)
    : BigInt(metric === 'requests' ? s.requests : s.input_tokens + s.output_tokens);

/** "2026-12-02 15:00 UTC" for hours, "2026-12-02" for days. */
const timeLabel = (t: number, granularity: UsageReport['granularity']) => {
  const iso = new Date(t).toISOString();
  return granularity === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10);
};

const groupName = (s: UsageSums) => s.label ?? s.group ?? '(none)';

/** Usage over time: a stacked bar chart, a table per group and CSV export of the series. */
export function UsageView({ path, groups }: { path: string; groups: UsageReport['group_by'][] }) {
  const { api } = useSession();
  const [range, setRange] = useState<RangeName>('24h');
  const [groupBy, setGroupBy] = useState<UsageReport['group_by']>(groups[0] ?? 'model');
  const [metric, setMetric] = useState<Metric>('credits');
  const usage = useLoad(
    (signal) => {
      const hours = RANGES[range];
      const to = new Date(Math.ceil(Date.now() / 3600_000) * 3600_000);
      const from = new Date(to.getTime() - hours * 3600_000);
      return api.get<UsageReport>(
        `${path}${query({
          from: from.toISOString(),
          to: to.toISOString(),
          group_by: groupBy,
          granularity: hours > 48 ? 'day' : 'hour',
        })}`,
        signal,
      );
    },
    [range, groupBy, path],
  );

  const exportCsv = (report: UsageReport) =>
    downloadText(
      `usage-${report.group_by}-${report.from.slice(0, 13)}.csv`,
      buildCsv<UsagePoint>(
        [
          { key: 'bucket', value: (p) => p.bucket },
          { key: report.group_by, value: (p) => p.group },
          { key: 'label', value: (p) => p.label },
          { key: 'requests', value: (p) => p.requests },
          { key: 'errors', value: (p) => p.errors },
          { key: 'aborted', value: (p) => p.aborted },
          { key: 'input_tokens', value: (p) => p.input_tokens },
          { key: 'output_tokens', value: (p) => p.output_tokens },
          { key: 'credits', value: (p) => p.credits },
        ],
        report.series,
      ),
      'text/csv',
    );

  return (
    <section className="card">
      <div className="toolbar">
        <label>
          Period
          <select value={range} onChange={(e) => setRange(e.target.value as RangeName)}>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="30d">Last 30 days</option>
          </select>
        </label>
        <label>
          Per
          <select value={groupBy} onChange={(e) => setGroupBy(e.target.value as UsageReport['group_by'])}>
            {groups.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <label>
          Show
          <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
            <option value="credits">credits</option>
            <option value="requests">requests</option>
            <option value="tokens">tokens</option>
          </select>
        </label>
        <button type="button" onClick={usage.reload}>
          Refresh
        </button>
        {usage.data && (
          <button type="button" onClick={() => usage.data && exportCsv(usage.data)}>
            Export CSV
          </button>
        )}
      </div>
      <ErrorText error={usage.error} />
      {usage.loading && !usage.data && <Loading what="usage" />}
      {usage.data && (
        <>
          <UsageChart report={usage.data} metric={metric} />
          <UsageTotals totals={usage.data.totals} groupBy={usage.data.group_by} />
        </>
      )}
    </section>
  );
}

/** Hand-drawn SVG: one stacked bar per hour or day, one colour per group. */
export function UsageChart({ report, metric }: { report: UsageReport; metric: Metric }) {
  const step = report.granularity === 'hour' ? 3600_000 : 24 * 3600_000;
  const start = Math.floor(new Date(report.from).getTime() / step) * step;
  const end = new Date(report.to).getTime();
  const buckets: number[] = [];
  for (let t = start; t < end; t += step) buckets.push(t);
  const groups = report.totals.map(groupName);
  const byBucket = new Map<number, UsagePoint[]>();
  for (const p of report.series) {
    const t = new Date(p.bucket).getTime();
    byBucket.set(t, [...(byBucket.get(t) ?? []), p]);
  }
  let max = 0n;
  for (const points of byBucket.values()) {
    const total = points.reduce((sum, p) => sum + metricOf(p, metric), 0n);
    if (total > max) max = total;
  }
  const width = 720;
  const height = 220;
  const left = 8;
  const barWidth = Math.max(1, (width - left) / Math.max(buckets.length, 1));
  // Geometry only (never shown as an amount): a ratio of two bigints as a fraction of the height.
  const scale = (v: bigint) => (max === 0n ? 0 : Number((v * 100000n) / max) / 100000) * (height - 20);
  const label = metric === 'credits' ? formatCredits(max) : max.toString();

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${metric} per ${report.granularity}`}>
        <line x1={left} y1={height - 1} x2={width} y2={height - 1} className="axis" />
        <text x={left + 2} y={12} className="axis-label">
          max {label} {metric}
        </text>
        <text x={left + 2} y={height - 5} className="axis-label">
          {timeLabel(start, report.granularity)}
        </text>
        <text x={width - 2} y={height - 5} className="axis-label axis-end">
          {timeLabel(end, report.granularity)}
        </text>
        {buckets.map((t, i) => {
          let y = height - 1;
          return (
            <g key={t}>
              <title>{new Date(t).toISOString().slice(0, report.granularity === 'hour' ? 13 : 10)}</title>
              {(byBucket.get(t) ?? []).map((p) => {
                const h = scale(metricOf(p, metric));
                y -= h;
                const color = COLORS[groups.indexOf(groupName(p)) % COLORS.length];
                return (
                  <rect
                    key={`${p.group}`}
                    x={left + i * barWidth + 0.5}
                    y={y}
                    width={Math.max(barWidth - 1, 0.5)}
                    height={h}
                    fill={color}
                  >
                    <title>{`${groupName(p)}: ${metric === 'credits' ? formatCredits(p.credits) : metricOf(p, metric).toString()}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {groups.length === 0 && <span>No usage in this period.</span>}
        {groups.map((g, i) => (
          <span key={g} className={`swatch swatch-${i % COLORS.length}`}>
            {g}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export function UsageTotals({ totals, groupBy }: { totals: UsageSums[]; groupBy: string }) {
  return (
    <table className="table" aria-label="Usage totals">
      <thead>
        <tr>
          <th>{groupBy}</th>
          <th className="num">Requests</th>
          <th className="num">Errors</th>
          <th className="num">Aborted</th>
          <th className="num">Input tokens</th>
          <th className="num">Output tokens</th>
          <th className="num">Credits</th>
          <th className="num">Spend</th>
        </tr>
      </thead>
      <tbody>
        {totals.map((s) => (
          <tr key={s.group ?? '-'}>
            <td>{groupName(s)}</td>
            <td className="num">{s.requests}</td>
            <td className="num">{s.errors}</td>
            <td className="num">{s.aborted}</td>
            <td className="num">{s.input_tokens}</td>
            <td className="num">{s.output_tokens}</td>
            <td className="num">{formatCredits(s.credits)}</td>
            <td className="num">{creditsToDollars(s.credits)}</td>
          </tr>
        ))}
        {totals.length === 0 && (
          <tr>
            <td colSpan={8} className="empty">
              No usage in this period.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
