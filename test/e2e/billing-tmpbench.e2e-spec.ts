import { randomUUID } from 'node:crypto';
import { BillingService } from '../../src/billing/billing.service';
import { startTestApp, TestApp } from '../support/test-app';

describe('tmp bench', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });
  it('reserve+settle', async () => {
    const b = t.app.get(BillingService);
    const [row] = (await t.dataSource.query(`INSERT INTO users (name) VALUES ('bench') RETURNING id`)) as { id: string }[];
    const userId = row!.id;
    await b.topUp(userId, 10n ** 15n);
    const msgs = [{ role: 'user', content: 'hello world'.repeat(20) }];
    const N = 2000;
    let t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const requestId = randomUUID();
      const credits = await b.estimate('llama3.1', msgs, 100);
      await b.reserve({ userId, requestId, model: 'llama3.1', credits });
      await b.settle(requestId, { inputTokens: 50, outputTokens: 30 });
    }
    const seq = (performance.now() - t0) / N;
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < N / 16; i++) {
          const requestId = randomUUID();
          await b.reserve({ userId, requestId, model: 'llama3.1', credits: 30000n });
          await b.settle(requestId, { inputTokens: 50, outputTokens: 30 });
        }
      }),
    );
    const par = performance.now() - t0;
    console.error(`sequential: ${seq.toFixed(3)} ms per estimate+reserve+settle; 16 concurrent (same user): ${((N / par) * 1000).toFixed(0)} pairs/s`);
    const bal = await b.balance(userId);
    const [s] = (await t.dataSource.query(`SELECT sum(amount)::text AS s FROM credit_ledger WHERE user_id=$1`, [userId])) as { s: string }[];
    expect(bal.toString()).toBe(s!.s);
  });
});
