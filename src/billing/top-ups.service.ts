import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { sqlState } from '../database/write-batcher';
import { LedgerRepository, TopUpRow } from './ledger.repository';
import { UUID } from './ledger.service';

export interface TopUpResult {
  /** Balance right after this top-up (on a replay: after the original one). */
  credits: bigint;
  entryId: string;
  replayed: boolean;
}

/** Admin credit top-ups, idempotent by key (CONTRACT §4). */
@Injectable()
export class TopUpsService {
  constructor(private readonly ledger: LedgerRepository) {}

  /**
   * Adds credits (one statement, no explicit transaction). With an idempotency key, a retry with
   * the same amount and reference returns the first result without crediting again, also when
   * the retries are concurrent; the same key with a different body is 422 idempotency_mismatch.
   * Unknown user: 404.
   */
  async topUp(
    userId: string,
    amount: bigint,
    opts: { reference?: string; idempotencyKey?: string } = {},
  ): Promise<TopUpResult> {
    if (amount <= 0n) throw new ApiError('invalid_request', 'amount: must be a positive integer', 'amount');
    if (!UUID.test(userId)) throw new ApiError('not_found', 'User not found');
    const reference = opts.reference ?? null;
    const key = opts.idempotencyKey ?? null;
    const hash = createHash('sha256')
      .update(JSON.stringify({ amount: amount.toString(), reference }))
      .digest('hex');
    let entry: TopUpRow | undefined;
    try {
      entry = await this.ledger.topUp(userId, amount, reference, key, hash);
    } catch (err) {
      // A concurrent first use of the same key won; this run sees its entry.
      if (sqlState(err) !== '23505' || key === null) throw err;
      entry = await this.ledger.topUp(userId, amount, reference, key, hash);
    }
    if (!entry) throw new ApiError('not_found', 'User not found');
    if (entry.request_hash !== hash) throw new ApiError('idempotency_mismatch');
    return { credits: BigInt(entry.balance_after), entryId: entry.id, replayed: entry.replayed };
  }
}
