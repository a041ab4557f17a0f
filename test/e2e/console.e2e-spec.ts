import { mkdirSync, readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FakeHost, startFakeOllama } from '../fakes';
import { launchBrowser } from '../support/browser';
import { createUserWithKey } from '../support/fixtures';
import { eventually } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

const SHOTS = 'test-results/console';

describe('web console in headless Chromium', () => {
  let t: TestApp;
  let fake: FakeHost;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminKey: string;
  const requests: string[] = [];
  const cspHeaders: string[] = [];
  const violations: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '500' });
    fake = await startFakeOllama({ models: ['llama3.1', 'qwen2.5'], tokens: 6, tokenDelayMs: 20 });
    adminKey = (await createUserWithKey(t, { role: 'admin', name: 'ops' })).key;
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('response', (r) => {
      if (r.request().resourceType() === 'document')
        cspHeaders.push(r.headers()['content-security-policy'] ?? '');
    });
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
  });
  afterAll(async () => {
    // The run's database is shared by every suite: leave the seeded rate table as it was.
    await t?.dataSource.query(`DELETE FROM rates WHERE model = 'qwen2.5'`);
    await t?.dataSource.query(`DELETE FROM hosts WHERE name = 'gpu-fake-1'`);
    await browser?.close();
    await fake?.close();
    await t?.close();
  });

  const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  const go = async (route: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: route }).click();
  };
  const signIn = async (key: string) => {
    await page.goto(`${t.url}/console/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  let userId = '';
  let userKey = '';

  it('serves the console with a strict CSP, cache headers and an SPA fallback', async () => {
    const index = await fetch(`${t.url}/console/admin/users`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const js = await fetch(`${t.url}${asset}`);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${t.url}/console/assets/missing.js`)).status).toBe(404);
  });

  it('lets an admin create a user, top up once on a double click, and issue a key shown once', async () => {
    await signIn(adminKey);
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await shot('admin-users');

    await page.getByRole('form', { name: 'New user' }).getByLabel('Name').fill('Alice');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.waitForURL(/\/console\/admin\/users\/[0-9a-f-]{36}$/);
    userId = page.url().split('/').pop() ?? '';

    const topUp = page.getByRole('form', { name: 'Top up' });
    await topUp.getByLabel('Credits').fill('5,000,000');
    await topUp.getByRole('button', { name: 'Add credits' }).dblclick();
    await page.getByText('Added 5,000,000 credits').waitFor();
    await page.getByTestId('balance').getByText('5,000,000', { exact: true }).waitFor();
    const ledger = page.getByRole('table', { name: 'Ledger' });
    await ledger.locator('tr[data-kind="topup"]').first().waitFor();
    expect(await ledger.locator('tr[data-kind="topup"]').count()).toBe(1);
    const rows = (await t.dataSource.query(
      `SELECT count(*)::int AS n, sum(amount)::text AS sum FROM credit_ledger WHERE user_id = $1`,
      [userId],
    )) as { n: number; sum: string }[];
    expect(rows[0]).toEqual({ n: 1, sum: '5000000' });

    const form = page.getByRole('form', { name: 'New key' });
    await form.getByLabel('Name').fill('laptop');
    await form.getByLabel('Models').fill('llama3.1');
    await form.getByLabel('Requests / minute').fill('100');
    await form.getByLabel('IP whitelist').fill('127.0.0.1, ::1');
    await form.getByRole('button', { name: 'Create key' }).click();
    userKey = (await page.getByTestId('new-key').textContent()) ?? '';
    expect(userKey).toMatch(/^sk-le-/);
    await page.getByRole('table', { name: 'Keys' }).getByText('laptop').waitFor();
    await shot('admin-user');

    await go('Rates');
    await page.getByRole('table', { name: 'Rates' }).waitFor();
    await go('Users');
    await page.getByRole('link', { name: 'Alice' }).click();
    await page.getByRole('table', { name: 'Keys' }).getByText('laptop').waitFor();
    expect(await page.content()).not.toContain(userKey);
    expect(await page.getByTestId('new-key').count()).toBe(0);
  });

  it('registers a fake GPU host and shows it healthy with its discovered models', async () => {
    await go('GPU hosts');
    const form = page.getByRole('form', { name: 'Register host' });
    await form.getByLabel('Name').fill('gpu-fake-1');
    await form.getByLabel('Base URL').fill(fake.url);
    await form.getByRole('button', { name: 'Register host' }).click();
    const row = page.locator('tr[data-host="gpu-fake-1"]');
    await row.getByTestId('host-status').getByText('healthy').waitFor({ timeout: 20000 });
    await expect(row.getByTestId('host-models').textContent()).resolves.toContain('llama3.1');
    await expect(row.getByTestId('host-models').textContent()).resolves.toContain('qwen2.5');
    await shot('admin-hosts');
    await row.getByRole('button', { name: 'Drain' }).click();
    await row.getByText('draining').waitFor();
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByRole('button', { name: 'Undrain' }).click();
    await row.getByRole('button', { name: 'Drain' }).waitFor();
    await row.getByRole('button', { name: 'Disable' }).waitFor();

    await row.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog').getByText('Remove host gpu-fake-1?').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect(await row.count()).toBe(1);
  });

  it('sets a rate with exact decimals and refuses a malformed one in words', async () => {
    await go('Rates');
    const form = page.getByRole('form', { name: 'Set rate' });
    await form.getByLabel('Model').fill('qwen2.5');
    await form.getByLabel('Input rate').fill('1e-5');
    await page.getByText('Write the rate in plain decimals, not exponent notation').waitFor();
    await form.getByLabel('Input rate').fill('0.0000000123');
    await form.getByLabel('Output rate').fill('0.015');
    await form.getByRole('button', { name: 'Save rate' }).click();
    await page.getByText('Saved qwen2.5: 0.0000000123 / 0.015 cents per token.').waitFor();
    const row = page.getByRole('table', { name: 'Rates' }).locator('tr', { hasText: 'qwen2.5' });
    await expect(row.textContent()).resolves.toContain('0.0000000123');
    await shot('admin-rates');

    await go('Queue');
    await page.getByRole('table', { name: 'Queue depth' }).getByText('tasks').waitFor();
    await shot('admin-queue');
    await go('Usage');
    await page.getByRole('table', { name: 'Usage totals' }).waitFor();
    await shot('admin-usage');
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('lets the user sign in with that key, see the balance, stream a chat and see usage', async () => {
    await signIn(userKey);
    await page.getByTestId('balance').getByText('5,000,000').waitFor();
    await shot('user-account');

    await go('Playground');
    await page.getByLabel('Message').fill('Hello there');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('streaming').waitFor();
    await page.getByTestId('chat').getByText('tok5').waitFor();
    await page.getByTestId('usage').waitFor();
    await shot('user-playground');
    expect(fake.requests.some((r) => r.path === '/api/chat')).toBe(true);

    await go('Usage');
    const totals = page.getByRole('table', { name: 'Usage totals' });
    await totals.getByText('llama3.1').waitFor();
    await expect(totals.locator('tbody tr').first().locator('td').nth(1).textContent()).resolves.toBe('1');
    await page.locator('figure.chart svg rect').first().waitFor({ state: 'attached' });
    await shot('user-usage');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const csvPath = `${SHOTS}/user-usage.csv`;
    await download.saveAs(csvPath);
    const csv = readFileSync(csvPath, 'utf8').split('\r\n');
    expect(csv[0]).toBe('bucket,model,label,requests,errors,aborted,input_tokens,output_tokens,credits');
    expect(csv[1]).toMatch(/,llama3\.1,llama3\.1,1,0,0,\d+,\d+,\d+$/);

    await go('Account');
    await eventually(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return (await page.getByTestId('balance').textContent()) !== '5,000,000';
    });
    await page.getByRole('table', { name: 'Recent requests' }).getByText('llama3.1').waitFor();
    // The user's own ledger: the top-up, then the request's reserve and settle.
    const ledger = page.getByRole('table', { name: 'Ledger' });
    await ledger.locator('tr[data-kind="settle"]').waitFor();
    expect(await ledger.locator('tr[data-kind="reserve"]').count()).toBe(1);
    expect(await ledger.locator('tr[data-kind="topup"]').count()).toBe(1);
    await shot('user-account-after');

    await go('Keys');
    await page.getByRole('table', { name: 'Keys' }).getByText('this session').waitFor();
    await page.getByText('A new key can do no more than the key you signed in with').waitFor();
    const form = page.getByRole('form', { name: 'New key' });
    await form.getByLabel('Name').fill('script');
    await form.getByLabel('Requests / minute').fill('500');
    await form.getByRole('button', { name: 'Create key' }).click();
    await form.getByText('rpm: at most 100').waitFor();
    await form.getByLabel('Requests / minute').fill('50');
    await form.getByRole('button', { name: 'Create key' }).click();
    const plaintext = (await page.getByTestId('new-key').textContent()) ?? '';
    expect(plaintext).toMatch(/^sk-le-/);
    await shot('user-keys');
    const row = page.getByRole('table', { name: 'Keys' }).locator('tr', { hasText: 'script' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(/Revoke key .* \(script\)\?/).waitFor();
    await dialog.getByRole('button', { name: 'Yes, revoke' }).click();
    await row.getByText('revoked').waitFor();
    const revoked = await fetch(`${t.url}/api/v1/account`, {
      headers: { Authorization: `Bearer ${plaintext}` },
    });
    expect(revoked.status).toBe(401);
  });

  it('shows a user key no admin page, and the admin API answers it 403', async () => {
    await page.goto(`${t.url}/console/admin/users`);
    await page.getByText('This page is for admins').waitFor();
    expect(await page.getByRole('table', { name: 'Users' }).count()).toBe(0);
    await shot('user-admin-refused');
    const status = await page.evaluate(async (key) => {
      const res = await fetch('/admin/users', { headers: { Authorization: `Bearer ${key}` } });
      return res.status;
    }, userKey);
    expect(status).toBe(403);
  });

  it('made no request outside the app and broke no CSP rule', () => {
    const origin = new URL(t.url).origin;
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(cspHeaders.length).toBeGreaterThan(0);
    for (const csp of cspHeaders) expect(csp).toContain("default-src 'none'");
    expect(violations).toEqual([]);
  });
});
