import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops the users foreign keys of the two append-only billing tables. Every insert into them is
 * written in the same statement as an update of (or insert into) the user's `accounts` row, whose
 * own foreign key already proves the user exists (and, having no ON DELETE, keeps a user with an
 * account from being deleted). The extra keys cost each insert a `SELECT … FOR KEY SHARE` on
 * `users` — about 40 µs of PostgreSQL CPU, three times per completion (bench/README.md).
 */
export class LedgerWithoutUserKeys1710000008000 implements MigrationInterface {
  name = 'LedgerWithoutUserKeys1710000008000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_user_id_fkey`);
    await q.query(`ALTER TABLE reservations DROP CONSTRAINT reservations_user_id_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE reservations ADD CONSTRAINT reservations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)`,
    );
    await q.query(
      `ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)`,
    );
  }
}
