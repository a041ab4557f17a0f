import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BillingService } from './billing.service';

/**
 * Every RESERVATION_SWEEP_INTERVAL_MS, refunds reservations a crashed process left open. Runs in
 * every process; concurrent sweeps are safe (see BillingService.sweepExpiredReservations).
 */
@Injectable()
export class ReservationSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReservationSweeper.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly billing: BillingService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.config.reservationSweepIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    // Let a sweep in progress finish before the database closes.
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.billing
      .sweepExpiredReservations()
      .then((n) => {
        if (n > 0) this.logger.warn(`Refunded ${n} reservation(s) left open longer than the timeout`);
      })
      .catch((err: Error) => this.logger.error(`Reservation sweep failed: ${err.message}`))
      .finally(() => {
        this.running = undefined;
      });
  }
}
