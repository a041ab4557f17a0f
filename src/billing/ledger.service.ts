import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { decodeLedgerCursor, encodeLedgerCursor } from './ledger-cursor';
import { LedgerRepository } from './ledger.repository';
import { SettleTracker } from './settle-tracker';

export type LedgerKind = 'topup' | 'reserve' | 'settle' | 'refund' | 'adjustment';

export interface LedgerEntry {
  id: string;
  amount: bigint;
  kind: LedgerKind;
  requestId: string | null;
  reference: string | null;
  balanceAfter: bigint;
  createdAt: Date;
}

export interface LedgerPage {
  entries: LedgerEntry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Balances and the ledger as users and admins read them; reads wait for this process's own settles. */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly tracker: SettleTracker,
  ) {}

  /** The user's balance in credits; a user without an account has 0. */
  async balance(userId: string): Promise<bigint> {
    return (await this.balances([userId])).get(userId) ?? 0n;
  }

  /** Balances of many users in one query; every id asked for is in the map (missing account = 0n). */
  async balances(userIds: string[]): Promise<Map<string, bigint>> {
    await this.tracker.settled(userIds);
    const result = new Map<string, bigint>(userIds.map((id) => [id, 0n]));
    const valid = userIds.filter((id) => UUID.test(id));
    if (valid.length === 0) return result;
    for (const [id, credits] of await this.ledger.balances(valid)) result.set(id, credits);
    return result;
  }

  /** Ledger entries of a user, newest first. Unknown user: 404. */
  async entries(userId: string, opts: { limit?: number; cursor?: string } = {}): Promise<LedgerPage> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 50), 1), 500);
    const before = opts.cursor ? decodeLedgerCursor(opts.cursor) : null;
    if (!UUID.test(userId) || !(await this.ledger.userExists(userId)))
      throw new ApiError('not_found', 'User not found');
    await this.tracker.settled([userId]);
    const rows = await this.ledger.page(userId, before, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      entries: page.map((r) => ({
        id: r.id,
        amount: BigInt(r.amount),
        kind: r.kind,
        requestId: r.request_id,
        reference: r.reference,
        balanceAfter: BigInt(r.balance_after),
        createdAt: r.created_at,
      })),
      nextCursor: rows.length > limit && last ? encodeLedgerCursor(last.id) : null,
    };
  }
}
