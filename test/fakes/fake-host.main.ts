import { parseArgs } from 'node:util';
import { startFakeOllama } from './fake-ollama';
import { startFakeOpenAI } from './fake-openai';
import type { FakeHost } from './fake-host.types';

/**
 * Runs one fake host as a process (the benchmark's simulated GPU host):
 * `node dist/test/fakes/fake-host.main.js --kind ollama|openai --port 11434 --tokens 50 --token-delay-ms 20`
 * Prints `{"url": ...}` once listening; run directly, it closes cleanly on SIGINT/SIGTERM.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<FakeHost> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kind: { type: 'string', default: 'ollama' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      tokens: { type: 'string', default: '5' },
      'token-delay-ms': { type: 'string', default: '0' },
      models: { type: 'string', default: 'llama3.1' },
    },
  });
  const options = {
    port: Number(values.port),
    host: values.host,
    tokens: Number(values.tokens),
    tokenDelayMs: Number(values['token-delay-ms']),
    models: values.models.split(','),
  };
  if (values.kind !== 'ollama' && values.kind !== 'openai')
    throw new Error('--kind must be ollama or openai');
  const fake = values.kind === 'ollama' ? await startFakeOllama(options) : await startFakeOpenAI(options);
  process.stdout.write(`${JSON.stringify({ url: fake.url, kind: values.kind })}\n`);
  return fake;
}

// Started directly (not imported by the benchmark or a test).
if (/fake-host\.main\.[jt]s$/.test(process.argv[1] ?? '')) {
  main()
    .then((fake) => {
      const stop = () => void fake.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exit(1);
    });
}
