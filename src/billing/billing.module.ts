import { Module } from '@nestjs/common';
import { AccountController } from './account.controller';
import { BillingService } from './billing.service';
import { RateBook } from './rate-book';
import { ReservationSweeper } from './reservation-sweeper';

/** Credits, rates, reservations and the ledger; exports BillingService. */
@Module({
  controllers: [AccountController],
  providers: [RateBook, BillingService, ReservationSweeper],
  exports: [BillingService],
})
export class BillingModule {}
