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
  const metrics = app.get(MetricsService);
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
      const metric = metrics.registry.getSingleMetric('le_billing_statement_rows') as Histogram | undefined;
      const counts = { reserve: 0, settle: 0, leaseSettle: 0 };
      for (const v of (await metric?.get())?.values ?? []) {
        if (v.metricName !== 'le_billing_statement_rows_count') continue;
        const statement = v.labels.statement;
        if (statement === 'reserve') counts.reserve = v.value;
        if (statement === 'settle') counts.settle = v.value;
        if (statement === 'lease_settle') counts.leaseSettle = v.value;
      }
      return counts;
    },
  };
}

export type Billing = ReturnType<typeof billingOf>;
