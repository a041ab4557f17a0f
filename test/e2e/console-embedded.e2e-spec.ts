import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, eventually, fundedUser } from '../support/platform';
import { startEmbeddedTestApp, TestApp } from '../support/test-app';

describe('console and usage aggregate on the embedded database (PGlite)', () => {
  let t: TestApp;
  let fake: FakeHost;
  const dataDir = mkdtempSync(join(tmpdir(), 'le-console-embedded-'));

  beforeAll(async () => {
    t = await startEmbeddedTestApp(dataDir, { HOST_CHECK_INTERVAL_MS: '60000', LOG_LEVEL: 'silent' });
    fake = await startFakeOllama({ models: ['llama3.1'], tokens: 4 });
    await addHost(t, 'embedded-gpu', fake.url, 'ollama');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves /console and keeps usage_hourly equal to usage_records', async () => {
    const page = await fetch(`${t.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");

    const users = await Promise.all([fundedUser(t, 1_000_000n), fundedUser(t, 1_000_000n)]);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${t.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${users[i % 2]!.key}` },
          body: JSON.stringify({
            model: 'llama3.1',
            messages: [{ role: 'user', content: `hi ${i}` }],
            max_tokens: 8,
            stream: i % 2 === 0,
          }),
        }).then((r) => r.text()),
      ),
    );
    await eventually(async () => {
      const rows = (await t.dataSource.query(`SELECT count(*)::int AS n FROM usage_records`)) as {
        n: number;
      }[];
      return rows[0]?.n === 12;
    });
    const records = await t.dataSource.query(
      `SELECT user_id::text, coalesce(host_id, '') AS host_id, count(*)::text AS requests,
              sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens,
              sum(credits)::text AS credits
         FROM usage_records GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const hourly = await t.dataSource.query(
      `SELECT user_id::text, host_id, sum(requests)::text AS requests, sum(input_tokens)::text AS input_tokens,
              sum(output_tokens)::text AS output_tokens, sum(credits)::text AS credits
         FROM usage_hourly GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(hourly).toEqual(records);
    expect(records).toHaveLength(2);

    const own = (await (
      await fetch(`${t.url}/api/v1/usage?group_by=model`, {
        headers: { Authorization: `Bearer ${users[0]!.key}` },
      })
    ).json()) as { totals: { group: string; requests: number }[] };
    expect(own.totals).toEqual([expect.objectContaining({ group: 'llama3.1', requests: 6 })]);
  });
});
