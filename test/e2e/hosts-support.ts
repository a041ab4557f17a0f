import type { ChunkBatch, CompletionChunk, CompletionRequest } from '../../src/completions/completion.types';
import type { HostInput } from '../../src/hosts/host.types';
import { HostsService } from '../../src/hosts/hosts.service';
import type { FakeHost } from '../fakes';
import type { TestApp } from '../support/test-app';

let counter = 0;

/** A chat request for `model` (3 words of user input). */
export function chatRequest(model: string, over: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    kind: 'chat',
    model,
    messages: [{ role: 'user', content: 'hello there world' }],
    maxTokens: 100,
    stream: true,
    ...over,
  };
}

/** Registers a fake host under a unique name and waits for its first health check; returns its id. */
export async function register(
  t: TestApp,
  fake: FakeHost,
  provider: 'ollama' | 'openai',
  extra: Partial<HostInput> = {},
): Promise<string> {
  const hosts = t.app.get(HostsService);
  const view = await hosts.create({
    name: `test-host-${process.pid}-${++counter}`,
    base_url: fake.url,
    provider,
    ...extra,
  });
  await hosts.checkAll();
  return view.id;
}

/** Removes every host, so each test starts from an empty registry. */
export async function removeAllHosts(t: TestApp): Promise<void> {
  const hosts = t.app.get(HostsService);
  await hosts.checkAll().catch(() => undefined);
  for (const host of hosts.list()) await hosts.remove(host.id);
}

/** Completion requests a fake received (listing calls excluded). */
export function completionCalls(fake: FakeHost): number {
  return fake.requests.filter((r) => /\/(chat|generate|completions|embed|embeddings)$/.test(r.path)).length;
}

/** Reads a stream to its end or its error; returns the texts delivered and the error, if any. */
export async function drain(
  batches: AsyncIterable<ChunkBatch>,
): Promise<{ texts: string[]; last?: CompletionChunk; error?: unknown }> {
  const texts: string[] = [];
  let last: CompletionChunk | undefined;
  try {
    for await (const batch of batches) {
      for (const chunk of batch) {
        if (chunk.text) texts.push(chunk.text);
        last = chunk;
      }
    }
    return { texts, last };
  } catch (error) {
    return { texts, last, error };
  }
}

export async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
