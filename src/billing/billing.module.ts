import { Module } from '@nestjs/common';
import { AccountController } from './account.controller';
import { HoldsService } from './holds.service';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';
import { PricingService } from './pricing.service';
import { RateBook } from './rate-book';
import { ReservationSweeper } from './reservation-sweeper';
import { SettleTracker } from './settle-tracker';
import { TopUpsService } from './top-ups.service';

/**
 * Credits, rates, holds and the ledger (src/billing/README.md): pricing, holds (reservations and
 * credit leases), the ledger's reads, top-ups, and the sweep.
 */
@Module({
  controllers: [AccountController],
  providers: [
    RateBook,
    PricingService,
    SettleTracker,
    HoldsService,
    LedgerRepository,
    LedgerService,
    TopUpsService,
    ReservationSweeper,
  ],
  exports: [PricingService, HoldsService, LedgerService, TopUpsService, SettleTracker],
})
export class BillingModule {}
