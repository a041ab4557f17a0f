import { connect } from 'node:net';
import { billingOf } from './billing';
import { HostsService } from '../../src/hosts/hosts.service';
import { createUserWithKey } from './fixtures';
import type { TestApp } from './test-app';

/** A funded user with a key, as every completion test needs. */
export async function fundedUser(
  t: TestApp,
  credits: bigint,
  keyOptions: Parameters<typeof createUserWithKey>[1] = {},
): Promise<{ userId: string; keyId: string; key: string }> {
  const user = await createUserWithKey(t, keyOptions);
  if (credits > 0n) await billingOf(t.app).topUp(user.userId, credits, { reference: 'test' });
  return user;
}

/** Registers a fake GPU host and waits until a health round has discovered its models. */
export async function addHost(
  t: TestApp,
  name: string,
  url: string,
  provider: 'ollama' | 'openai',
  extra: Record<string, unknown> = {},
): Promise<string> {
  const hosts = t.app.get(HostsService);
  await forgetClosedHosts(hosts);
  const host = await hosts.create({ name, base_url: url, provider, ...extra } as Parameters<
    HostsService['create']
  >[0]);
  await hosts.checkAll();
  return (host as { id: string }).id;
}

/** Removes hosts a suite registered, so its later tests (same database) never try them. */
export async function removeHosts(t: TestApp | undefined, ids: (string | undefined)[]): Promise<void> {
  if (!t) return;
  const hosts = t.app.get(HostsService);
  for (const id of ids) if (id) await hosts.remove(id).catch(() => undefined);
}

/** Sum of a user's ledger amounts, straight from the database. */
export async function ledgerSum(t: TestApp, userId: string): Promise<bigint> {
  const rows = (await t.dataSource.query(
    `SELECT COALESCE(SUM(amount), 0)::text AS sum FROM credit_ledger WHERE user_id = $1`,
    [userId],
  )) as { sum: string }[];
  return BigInt(rows[0]?.sum ?? '0');
}

export async function balanceOf(t: TestApp, userId: string): Promise<bigint> {
  return billingOf(t.app).balance(userId);
}

export async function usageCredits(t: TestApp, userId: string): Promise<bigint> {
  const rows = (await t.dataSource.query(
    `SELECT COALESCE(SUM(credits), 0)::text AS sum FROM usage_records WHERE user_id = $1`,
    [userId],
  )) as { sum: string }[];
  return BigInt(rows[0]?.sum ?? '0');
}

/** Polls until `check` passes (for effects that land after the response, e.g. a dropped stream's settle). */
export async function eventually(check: () => Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `/v1/chat/completions` body: llama3.1, one user message 'hello', max_tokens 8, plus `extra`. */
export function chatBody(extra: object = {}): string {
  return JSON.stringify({
    model: 'llama3.1',
    messages: [{ role: 'user', content: 'hello' }],
    max_tokens: 8,
    ...extra,
  });
}

/** POST /v1/chat/completions with a bearer key; the JSON answer and its status. */
export async function postChat(
  t: TestApp,
  key: string,
  body = chatBody(),
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Hosts an earlier test of this file left behind whose fake is closed (nothing listens on their
 * port) are removed, so this test's requests never try them (nor a new fake on a reused port).
 */
async function forgetClosedHosts(hosts: HostsService): Promise<void> {
  for (const host of hosts.list()) {
    const url = new URL(host.base_url);
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') continue;
    if (!(await listening(url.hostname, Number(url.port))))
      await hosts.remove(host.id).catch(() => undefined);
  }
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
