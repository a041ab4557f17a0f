import type { INestApplication } from '@nestjs/common';
import type { Histogram } from 'prom-client';
import { HoldsService } from '../../src/billing/holds.service';
import { LedgerService } from '../../src/billing/ledger.service';
import { PricingService } from '../../src/billing/pricing.service';
import { ReservationSweeper } from '../../src/billing/reservation-sweeper';
import { SettleTracker } from '../../src/billing/settle-tracker';
import { TopUpsService } from '../../src/billing/top-ups.service';
import { MetricsService } from '../../src/metrics/metrics.service';

/**
 * The billing services of one app under one name, for tests that drive billing directly:
 * pricing, holds, top-ups, the ledger and the sweep, as the app's own modules call them.
 */
export function billingOf(app: INestApplication) {
  const pricing = app.get(PricingService);
  const holds = app.get(HoldsService);
  const ledger = app.get(LedgerService);
  const topUps = app.get(TopUpsService);
  const tracker = app.get(SettleTracker);
  const sweeper = app.get(ReservationSweeper);
  return {
    estimate: pricing.estimate.bind(pricing),
    cost: pricing.cost.bind(pricing),
    hasRate: pricing.hasRate.bind(pricing),
    listRates: pricing.listRates.bind(pricing),
    setRate: pricing.setRate.bind(pricing),
    hold: holds.hold.bind(holds),
    reserve: holds.reserve.bind(holds),
    likelyCovers: holds.likelyCovers.bind(holds),
    settle: holds.settle.bind(holds),
    refund: holds.refund.bind(holds),
    topUp: topUps.topUp.bind(topUps),
    balance: ledger.balance.bind(ledger),
    balances: ledger.balances.bind(ledger),
    ledger: ledger.entries.bind(ledger),
    settled: tracker.settled.bind(tracker),
    sweepExpiredReservations: async () => (await sweeper.refundExpired()).refunded,
    sweepLeases: () => sweeper.endExpiredLeases(),
    /** Billing write statements sent so far, per kind (le_billing_statement_rows' counts on /metrics). */
    batchStatements: async () => {
      const rows = await statementRows(app, 'le_billing_statement_rows');
      return {
        reserve: rows.reserve?.count ?? 0,
        settle: rows.settle?.count ?? 0,
        leaseSettle: rows.lease_settle?.count ?? 0,
      };
    },
  };
}

export type Billing = ReturnType<typeof billingOf>;

/**
 * A rows-per-statement histogram of the app's /metrics (le_billing_statement_rows,
 * le_queue_statement_rows) by its `statement` label: statements sent, and rows they carried.
 */
export async function statementRows(
  app: INestApplication,
  name: string,
): Promise<Partial<Record<string, { count: number; sum: number }>>> {
  const metric = app.get(MetricsService).registry.getSingleMetric(name) as Histogram | undefined;
  const out: Partial<Record<string, { count: number; sum: number }>> = {};
  for (const v of (await metric?.get())?.values ?? []) {
    const statement = String(v.labels.statement);
    const entry = (out[statement] ??= { count: 0, sum: 0 });
    if (v.metricName === `${name}_count`) entry.count = v.value;
    if (v.metricName === `${name}_sum`) entry.sum = v.value;
  }
  return out;
}
