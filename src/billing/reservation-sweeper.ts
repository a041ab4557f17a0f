import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { HoldsService } from './holds.service';
import { SWEEP_BATCH, sweepAgain } from './sweep-rules';

/**
 * Every RESERVATION_SWEEP_INTERVAL_MS, refunds reservations and ends credit leases a crashed
 * process left behind (leases whatever this process's own BILLING_CREDIT_LEASES: other processes
 * may lease). Runs in every process; concurrent sweeps are safe: each refund only changes a
 * reservation that is still open (HoldsService.refund), and the lease sweep is one statement.
 * Sweeps, refunds and refunded credits are counted on /metrics.
 */
@Injectable()
export class ReservationSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReservationSweeper.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly sweeps: Counter;
  private readonly refunds: Counter;
  private readonly refundedCredits: Counter;
  private readonly leasesEnded: Counter;

  constructor(
    private readonly holds: HoldsService,
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    this.sweeps = new Counter({
      name: 'le_reservation_sweeps_total',
      help: 'Reservation sweeps run by this process',
      registers,
    });
    this.refunds = new Counter({
      name: 'le_reservation_sweep_refunds_total',
      help: 'Reservations refunded by the sweep (left open past RESERVATION_TIMEOUT_MS)',
      registers,
    });
    this.refundedCredits = new Counter({
      name: 'le_reservation_sweep_refunded_credits_total',
      help: 'Credits given back by the sweep',
      registers,
    });
    this.leasesEnded = new Counter({
      name: 'le_reservation_sweep_leases_ended_total',
      help: 'Credit leases ended by the sweep (not renewed within the timeout)',
      registers,
    });
  }

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

  /** One sweep (the timer's; tests call it). */
  async sweep(): Promise<void> {
    const leases = await this.endExpiredLeases();
    this.leasesEnded.inc(leases);
    if (leases > 0) this.logger.warn(`Ended ${leases} credit lease(s) not renewed within the timeout`);
    const { refunded, credits } = await this.refundExpired();
    this.sweeps.inc();
    this.refunds.inc(refunded);
    this.refundedCredits.inc(Number(credits));
    if (refunded > 0)
      this.logger.warn(
        `Refunded ${refunded} reservation(s) (${credits} credits) left open longer than the timeout`,
      );
  }

  /** Ends credit leases past their deadline; how many this call ended. */
  async endExpiredLeases(): Promise<number> {
    let ended = 0;
    for (let n = SWEEP_BATCH; sweepAgain(n); ended += n) n = await this.holds.endExpiredLeases(SWEEP_BATCH);
    return ended;
  }

  /** Refunds open reservations past their deadline; what this call refunded (another replica's are not counted). */
  async refundExpired(): Promise<{ refunded: number; credits: bigint }> {
    let refunded = 0;
    let credits = 0n;
    for (;;) {
      const ids = await this.holds.expiredReservations(SWEEP_BATCH);
      for (const id of ids) {
        const amount = await this.holds.refund(id);
        if (amount > 0n) {
          refunded++;
          credits += amount;
        }
      }
      if (!sweepAgain(ids.length)) return { refunded, credits };
    }
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
