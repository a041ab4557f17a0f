import { randomBytes } from 'node:crypto';
import { ApiError } from '../../src/common/api-error';
import { DispatcherService } from '../../src/hosts/dispatcher.service';
import { HostsService } from '../../src/hosts/hosts.service';
import { startFakeOllama } from '../fakes';
import { fundedUser } from '../support/platform';
import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';
import { startTestApp } from '../support/test-app';
import { chatRequest, drain, register, removeAllHosts } from './hosts-support';

const LEASE_MS = 2000;

describe('routing: a SIGKILLed replica gives its host slots back', () => {
  it('within the lease: the host counts as full until then, and serves again after', async () => {
    const fake = await startFakeOllama({ models: ['llama3.1'], tokens: 200, tokenDelayMs: 100 });
    const prefix = `le-test-lease-${randomBytes(4).toString('hex')}`;
    const env = {
      REDIS_PREFIX: prefix,
      HOST_SLOT_LEASE_MS: String(LEASE_MS),
      HOST_CHECK_INTERVAL_MS: '600000',
    };
    const t = await startTestApp({ ...env, HOST_WAIT_MS: '0' });
    const port = randomPort();
    const replica = spawnBuilt('dist/src/main.js', [], {
      ...env,
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      APP_ROLE: 'api',
    });
    const streams: AbortController[] = [];
    try {
      const user = await fundedUser(t, 10_000_000n);
      await register(t, fake, 'ollama', { max_concurrency: 2 });
      await waitForStatus(`http://127.0.0.1:${port}/health/hosts`, 30000, 200);

      // The replica takes both slots with two long streams.
      for (let i = 0; i < 2; i++) {
        const abort = new AbortController();
        streams.push(abort);
        const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
          body: JSON.stringify({
            model: 'llama3.1',
            messages: [{ role: 'user', content: 'hi' }],
            stream: true,
          }),
          signal: abort.signal,
        });
        expect(res.status).toBe(200);
        void res.body?.getReader().read();
      }
      expect(fake.active).toBe(2);

      // This app sees the host full (once a sync has read the other replica's slots).
      const dispatcher = t.app.get(DispatcherService);
      const attempt = () =>
        dispatcher.stream(chatRequest('llama3.1', { maxTokens: 1 }), new AbortController().signal).then(
          async (s) => {
            await drain(s.chunks);
            return true;
          },
          (error: unknown) => {
            if (error instanceof ApiError && error.code === 'no_available_hosts') return false;
            throw error;
          },
        );
      await new Promise((r) => setTimeout(r, LEASE_MS / 2));
      expect(await attempt()).toBe(false);

      replica.child.kill('SIGKILL');
      await replica.exit;
      const killedAt = Date.now();
      // Its sockets are gone at once, its slots are not: they are the lease's.
      await new Promise((r) => setTimeout(r, 200));
      expect(fake.active).toBe(0);
      expect(await attempt()).toBe(false);

      let servedAt = 0;
      while (Date.now() - killedAt < 3 * LEASE_MS) {
        if (await attempt()) {
          servedAt = Date.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(servedAt).toBeGreaterThan(0);
      // Lease + one sync tick (lease / 4) + slack for a busy machine.
      expect(servedAt - killedAt).toBeLessThan(LEASE_MS + LEASE_MS / 4 + 750);
      expect(t.app.get(HostsService).list()[0]?.cluster_in_flight).toBe(0);
    } finally {
      streams.forEach((s) => s.abort());
      if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
      await removeAllHosts(t);
      await t.close();
      await fake.close();
    }
  });
});
