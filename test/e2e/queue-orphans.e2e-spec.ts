import { randomUUID } from 'node:crypto';
import { billingOf } from '../support/billing';
import { TaskMaintenance } from '../../src/queue/task-maintenance';
import { balanceOf, fundedUser, ledgerSum } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

describe('queue recovery: a hold whose task was never inserted', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ APP_ROLE: 'api', HOST_CHECK_INTERVAL_MS: '60000' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is refunded once it is old, while a queued task keeps its hold', async () => {
    const user = await fundedUser(t, 1_000_000n);
    const billing = billingOf(t.app);
    const orphan = randomUUID();
    await billing.reserve({
      userId: user.userId,
      requestId: orphan,
      model: 'llama3.1',
      credits: 300n,
      holdMs: null,
    });
    const submitted = await fetch(`${t.url}/api/v1/qcompletions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: user.key },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'hi' }],
        model: 'llama3.1',
        max_tokens: 10,
      }),
    });
    const task = ((await submitted.json()) as { task_id: string }).task_id;
    const held = await balanceOf(t, user.userId);
    expect(held).toBeLessThan(1_000_000n - 300n);

    const maintenance = t.app.get(TaskMaintenance);
    expect(await maintenance.refundHoldsWithoutTask()).toBe(0); // too young: a submit may be mid-way
    // Age both holds past the orphan threshold (as if the process had died a while ago).
    await t.dataSource.query(
      `UPDATE reservations SET created_at = now() - interval '10 minutes' WHERE request_id = ANY($1)`,
      [[orphan, task]],
    );
    expect(await maintenance.refundHoldsWithoutTask()).toBe(1);
    expect(await maintenance.refundHoldsWithoutTask()).toBe(0);
    expect(await balanceOf(t, user.userId)).toBe(held + 300n);
    expect(await ledgerSum(t, user.userId)).toBe(held + 300n);
    const open = (await t.dataSource.query(
      `SELECT request_id FROM reservations WHERE status = 'open' AND user_id = $1`,
      [user.userId],
    )) as { request_id: string }[];
    expect(open.map((r) => r.request_id)).toEqual([task]);
  });
});
