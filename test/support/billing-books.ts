import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { SettleUsageRecord } from '../../src/billing/billing-batches';
import { type Billing } from './billing';
import { ApiError } from '../../src/common/api-error';

/** Helpers of the billing batch tests (PostgreSQL and embedded): cycles and per-user money invariants. */

export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return err instanceof ApiError ? err.code : `unexpected: ${String(err)}`;
  }
}

export function usageRecord(userId: string): SettleUsageRecord {
  return {
    userId,
    keyId: randomUUID(),
    model: 'llama3.1',
    host: { id: 'h1', name: 'host one' },
    surface: 'test',
    operation: 'chat',
    durationMs: 12.4,
    ttftMs: null,
    status: 'ok',
  };
}

/**
 * estimate → reserve (or, with `via: 'hold'`, HoldsService.hold: a credit lease) → settle with a
 * usage record; a 402 ends the cycle with nothing held.
 */
export async function cycle(
  billing: Billing,
  userId: string,
  i: number,
  model = 'llama3.1',
  via: 'reserve' | 'hold' = 'reserve',
): Promise<string> {
  const messages = [{ role: 'user', content: 'x'.repeat(1 + (i % 37)) }];
  const maxTokens = 1 + (i % 50);
  const credits = await billing.estimate(model, messages, maxTokens);
  const requestId = randomUUID();
  const reserved = await codeOf(billing[via]({ userId, requestId, model, credits }));
  if (reserved !== 'ok') return reserved;
  const usage = { inputTokens: 1 + (i % 37), outputTokens: i % (maxTokens + 1) };
  await billing.settle(requestId, usage, usageRecord(userId));
  return 'ok';
}

export async function expectBooksBalanced(db: DataSource, userId: string, initial: bigint): Promise<void> {
  const [row] = (await db.query(
    `SELECT (SELECT credits::text FROM accounts WHERE user_id = $1) AS balance,
            (SELECT COALESCE(SUM(amount), 0)::text FROM credit_ledger WHERE user_id = $1) AS ledger,
            (SELECT COALESCE(SUM(credits), 0)::text FROM usage_records WHERE user_id = $1) AS used,
            (SELECT COALESCE(SUM(charged), 0)::text FROM reservations WHERE user_id = $1) AS charged,
            (SELECT count(*)::int FROM reservations WHERE user_id = $1 AND status = 'open') AS open`,
    [userId],
  )) as { balance: string; ledger: string; used: string; charged: string; open: number }[];
  expect({ ...row, balance: BigInt(row!.balance), ledger: BigInt(row!.ledger) }).toEqual({
    balance: initial - BigInt(row!.used),
    ledger: initial - BigInt(row!.used),
    used: row!.charged,
    charged: row!.charged,
    open: 0,
  });
}

export async function newUser(db: DataSource): Promise<string> {
  const [row] = (await db.query(`INSERT INTO users (name) VALUES ($1) RETURNING id`, [
    `batch-${randomUUID()}`,
  ])) as { id: string }[];
  return row!.id;
}

/** Request ids and texts that an array literal must quote: they come back exactly as sent. */
export const AWKWARD_TEXTS = ['NULL', 'a,b', '{x}', 'say "hi"', 'back\\slash', ' spaced ', 'ünï 😀', ''];

export async function expectAwkwardTextsKept(db: DataSource, billing: Billing, model: string): Promise<void> {
  const userId = await newUser(db);
  await billing.topUp(userId, 1_000_000n);
  const ids = AWKWARD_TEXTS.map((t) => `${t}${randomUUID()}`);
  await Promise.all(ids.map((requestId) => billing.reserve({ userId, requestId, model, credits: 1_000n })));
  await Promise.all(
    ids.map((requestId, i) =>
      billing.settle(
        requestId,
        { inputTokens: 1, outputTokens: 1 },
        { ...usageRecord(userId), surface: AWKWARD_TEXTS[i]!, error: AWKWARD_TEXTS[i] },
      ),
    ),
  );
  const rows = (await db.query(
    `SELECT r.request_id, r.status, u.surface, u.error FROM reservations r
     JOIN usage_records u ON u.request_id = r.request_id WHERE r.user_id = $1`,
    [userId],
  )) as { request_id: string; status: string; surface: string; error: string }[];
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  expect(ids.map((id) => byId.get(id))).toEqual(
    ids.map((id, i) => ({
      request_id: id,
      status: 'settled',
      surface: AWKWARD_TEXTS[i],
      error: AWKWARD_TEXTS[i],
    })),
  );
  await expectBooksBalanced(db, userId, 1_000_000n);
}
