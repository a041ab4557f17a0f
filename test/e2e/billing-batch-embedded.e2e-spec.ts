import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { billingOf } from '../support/billing';
import { startEmbeddedTestApp } from '../support/test-app';
import { cycle, expectAwkwardTextsKept, expectBooksBalanced, newUser } from '../support/billing-books';

/** Batched reserve/settle on the embedded PGlite database (plpgsql functions, array parameters). */
describe('billing batches (embedded PGlite)', () => {
  let app: NestExpressApplication;
  const dataDir = mkdtempSync(join(tmpdir(), 'le-billing-batch-'));

  beforeAll(async () => {
    const t = await startEmbeddedTestApp(dataDir);
    app = t.app;
    // As a client would: start once the readiness probe sees the embedded database and Redis up.
    const url = `${t.url}/health/ready`;
    for (;;) {
      const ready = (await (await fetch(url)).json()) as { details?: Record<string, { status: string }> };
      if (ready.details?.redis?.status === 'up' && ready.details.database?.status === 'up') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // A rate of its own, set through the service (its rate book reloads at once).
    await billingOf(app).setRate('test-batch-embedded', '0.01', '0.02');
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** 150 concurrent cycles over 3 fresh users with 200,000 credits each; every book must balance. */
  async function burst(via: 'reserve' | 'hold') {
    const db = app.get(DataSource);
    const billing = billingOf(app);
    const users = [await newUser(db), await newUser(db), await newUser(db)];
    const initial = 200_000n;
    for (const u of users) await billing.topUp(u, initial);
    const before = await billing.batchStatements();
    const outcomes = await Promise.all(
      Array.from({ length: 150 }, (_, i) => cycle(billing, users[i % 3]!, i, 'test-batch-embedded', via)),
    );
    const ok = outcomes.filter((o) => o === 'ok').length;
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'insufficient_credits')).toEqual([]);
    // The credit ran short for some: 50 cycles cost more than 200,000 credits.
    expect(outcomes).toContain('insufficient_credits');
    expect(ok).toBeGreaterThan(0);
    for (const u of users) await expectBooksBalanced(db, u, initial);
    const [records] = (await db.query(
      `SELECT count(*)::int AS n FROM usage_records WHERE user_id = ANY($1::uuid[])`,
      [users],
    )) as { n: number }[];
    expect(records!.n).toBe(ok);
    return { db, users, before, after: await billing.batchStatements() };
  }

  it('a concurrent burst of 150 reserve → settle cycles over 3 users keeps every book balanced', async () => {
    const { before, after } = await burst('reserve');
    expect(after.reserve - before.reserve).toBeLessThan(150);
  });

  it('a concurrent burst of 150 lease hold → settle cycles over 3 users keeps every book balanced', async () => {
    const { db, users, before, after } = await burst('hold');
    expect(after.reserve).toBe(before.reserve);
    expect(after.leaseSettle - before.leaseSettle).toBeGreaterThan(0);
    // Each user's lease stays until idle; the leases hold exactly what the accounts say is leased.
    const [row] = (await db.query(
      `SELECT (SELECT sum(leased) FROM accounts WHERE user_id = ANY($1::uuid[]))::text AS leased,
              (SELECT coalesce(sum(amount), 0) FROM credit_leases WHERE user_id = ANY($1::uuid[]))::text AS held`,
      [users],
    )) as { leased: string; held: string }[];
    expect(row!.leased).toBe(row!.held);
  });

  it('request ids and texts with quotes, commas, braces, NULL and backslashes survive the arrays', async () => {
    await expectAwkwardTextsKept(app.get(DataSource), billingOf(app), 'test-batch-embedded');
  });
});
