/** `node dist/bench/profile-summary.js <file.cpuprofile> [top]`: top self-time functions and areas. */
import { renderProfile, summariseProfile } from './lib/cpu-profile';

const [file, topN] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top]\n');
  process.exit(1);
}
process.stdout.write(`${renderProfile(summariseProfile(file, Number(topN ?? 15)))}\n`);
