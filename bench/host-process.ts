/**
 * The simulated GPU host as its own process: test/fakes' fake-host main (same flags:
 * --kind, --port, --tokens, --token-delay-ms, --models), minus its request log. The fakes keep
 * every request for the tests' assertions (~1 KB each); at benchmark rates that is hundreds of
 * MB per run, so the log is emptied every second.
 */
import { main } from '../test/fakes/fake-host.main';

main()
  .then((fake) => setInterval(() => (fake.requests.length = 0), 1000))
  .catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
