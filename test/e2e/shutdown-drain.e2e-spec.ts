import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';

describe('SIGTERM drain', () => {
  it('keeps accepting new connections for SHUTDOWN_DRAIN_MS while readiness answers 503, then exits', async () => {
    const port = randomPort();
    const p = spawnBuilt('dist/src/main.js', [], {
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? '',
      REDIS_PREFIX: `le-test-drain-delay-${port}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_MS: '1500',
      SHUTDOWN_GRACE_MS: '8000',
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitForStatus(`${base}/health/ready`, 30000);
      const signalled = Date.now();
      p.child.kill('SIGTERM');
      await waitForStatus(`${base}/health/ready`, 1000, 503);
      // A new connection 0.3 s after SIGTERM (the case) and later in the window is served.
      await new Promise((r) => setTimeout(r, Math.max(0, 300 - (Date.now() - signalled))));
      const live = await fetch(`${base}/health`, { headers: { Connection: 'close' } });
      expect(live.status).toBe(200);
      const ready = await fetch(`${base}/health/ready`, { headers: { Connection: 'close' } });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: Record<string, unknown> }).error).toEqual({
        shutdown: { status: 'down', message: 'Shutting down' },
      });
      expect(Date.now() - signalled).toBeLessThan(1500);
      const [code] = await p.exit;
      expect(code).toBe(0);
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(1500);
      await expect(fetch(`${base}/health`)).rejects.toThrow();
      expect(p.out()).toContain('SIGTERM received: unready, accepting for 1500 ms');
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('refuses SHUTDOWN_DRAIN_MS not below SHUTDOWN_GRACE_MS', async () => {
    const p = spawnBuilt('dist/src/main.js', [], { SHUTDOWN_DRAIN_MS: '5000', SHUTDOWN_GRACE_MS: '5000' });
    const [code] = await p.exit;
    expect(code).toBe(1);
    expect(p.err().trim()).toBe(
      'LlmEndpoint did not start. Invalid configuration: SHUTDOWN_DRAIN_MS: SHUTDOWN_DRAIN_MS must be below SHUTDOWN_GRACE_MS (the hard-exit deadline)',
    );
  });
});
