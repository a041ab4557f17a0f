import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BillingService } from './billing.service';

/**
 * Every RESERVATION_SWEEP_INTERVAL_MS, refunds reservations and ends credit leases a crashed
 * process left behind (leases whatever this process's own BILLING_CREDIT_LEASES: other processes
 * may lease). Runs in every process; concurrent sweeps are safe (see
 * BillingService.sweepExpiredReservations and sweepLeases).
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

  private async sweep(): Promise<void> {
    const leases = await this.billing.sweepLeases();
    if (leases > 0) this.logger.warn(`Ended ${leases} credit lease(s) not renewed within the timeout`);
    const refunded = await this.billing.sweepExpiredReservations();
    if (refunded > 0)
      this.logger.warn(`Refunded ${refunded} reservation(s) left open longer than the timeout`);
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.sweep()
      .catch((err: Error) => this.logger.error(`Reservation sweep failed: ${err.message}`))
      .finally(() => {
        this.running = undefined;
      });
  }
}
