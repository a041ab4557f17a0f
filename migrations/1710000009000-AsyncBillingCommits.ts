import type { MigrationInterface, QueryRunner } from 'typeorm';
import { asyncTwinSql } from './billing-functions';

/**
 * `…_async` twins of the batched reserve and settle: the same function, in a transaction whose
 * commit does not wait for the WAL flush (`synchronous_commit = off` for that transaction only;
 * BILLING_SYNCHRONOUS_COMMIT=false, the default). A PostgreSQL or OS crash can lose the last
 * ~0.6 s of such commits, each one whole: the books stay balanced; a lost reserve means an
 * uncharged request, a lost settle leaves the hold open for the sweep to refund. Nobody is
 * charged twice or too much. Top-ups, refunds and admin writes always wait for the flush.
 */
export class AsyncBillingCommits1710000009000 implements MigrationInterface {
  name = 'AsyncBillingCommits1710000009000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(asyncTwinSql('billing_reserve_batch', 'reserve'));
    await q.query(asyncTwinSql('billing_settle_batch', 'settle'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION billing_settle_batch_async`);
    await q.query(`DROP FUNCTION billing_reserve_batch_async`);
  }
}
