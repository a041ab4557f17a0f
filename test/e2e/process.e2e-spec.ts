import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOllama } from '../fakes';
import { fundedUser } from '../support/platform';
import { startTestApp } from '../support/test-app';
import { randomPort, spawnBuilt, waitForStatus } from '../support/spawn-app';

/** The built app (`npm test` builds first) as a real process. */
const run = (env: Record<string, string>) => spawnBuilt('dist/src/main.js', [], env);

describe('the app as a process', () => {
  it('fails fast with one clear line when the database is unreachable', async () => {
    const p = run({
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: '0',
    });
    const [code] = await p.exit;
    expect(code).toBe(1);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DATABASE_URL=postgres://nobody@127.0.0.1:1/x');
    expect(lines[0]).toContain('ECONNREFUSED');
  });

  it('names the variable when a setting is invalid', async () => {
    const p = run({ PORT: 'not-a-port' });
    const [code] = await p.exit;
    expect(code).toBe(1);
    expect(p.err().trim()).toBe(
      'LlmEndpoint did not start. Invalid configuration: PORT: PORT must be a number',
    );
  });

  it('logs JSON with request ids, never the API key, and stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'le-proc-'));
    const port = String(randomPort());
    const p = run({
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? '',
      REDIS_PREFIX: `le-test-proc-${port}`,
      PORT: port,
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
    });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health`, 30000);
      const secret = 'sk-le-abcdefgh-ThisIsASecretThatMustNeverBeLogged0123456789';
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/account`, {
        headers: { Authorization: `Bearer ${secret}`, 'X-API-Key': secret, 'X-Request-Id': 'req-log-1' },
      });
      await res.text();
      p.child.kill('SIGTERM');
      const [code] = await p.exit;
      expect(code).toBe(0);
      const lines = p.out().trim().split('\n');
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const request = parsed.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-log-1');
      expect(request).toBeDefined();
      expect(p.out()).not.toContain('ThisIsASecretThatMustNeverBeLogged');
      expect(p.out()).toContain('SIGTERM received');
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('on SIGTERM lets an in-flight stream finish before exiting', async () => {
    const host = await startFakeOllama({ models: ['llama3.1'], tokens: 20, tokenDelayMs: 50 });
    const setup = await startTestApp();
    const user = await fundedUser(setup, 10_000_000n);
    await setup.close();
    const port = String(randomPort());
    const p = run({
      DATABASE_URL: process.env.LE_TEST_DATABASE_URL ?? '',
      REDIS_URL: process.env.LE_TEST_REDIS_URL ?? '',
      REDIS_PREFIX: `le-test-drain-${port}`,
      PORT: port,
      HOST: '127.0.0.1',
      HOSTS: `ollama=${host.url}`,
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '20000',
    });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health/hosts`, 30000);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: user.key },
        body: JSON.stringify({
          model: 'llama3.1',
          messages: [{ role: 'user', content: 'long answer please' }],
          max_tokens: 100,
          stream: true,
        }),
      });
      expect(res.status).toBe(200);
      const body = res.text();
      p.child.kill('SIGTERM');
      const lines = (await body).trim().split('\n');
      expect(lines).toHaveLength(20);
      const [code] = await p.exit;
      expect(code).toBe(0);
      // The stopped server no longer accepts connections.
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await host.close();
    }
  });
});
