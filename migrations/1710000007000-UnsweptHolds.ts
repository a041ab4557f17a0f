import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Finds open holds that no timeout sweeps (queued tasks') by age, for the queue's orphan check. */
export class UnsweptHolds1710000007000 implements MigrationInterface {
  name = 'UnsweptHolds1710000007000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX reservations_unswept_idx ON reservations (created_at) WHERE status = 'open' AND expires_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX reservations_unswept_idx`);
  }
}
