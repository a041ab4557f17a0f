// npm on this machine's registry cannot see other platforms' optional binaries, so it leaves them
// out of the lock, and `npm ci` then refuses the lock. Record them (version + os/cpu, optional) so
// npm ci validates and skips them as platform mismatches, as a lock made on another OS would.
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const pkgs = lock.packages;
const OS = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32'];
let added = 0;
for (const [path, entry] of Object.entries(pkgs)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies || {})) {
    if (pkgs[`node_modules/${name}`] || pkgs[`${path}/node_modules/${name}`]) continue;
    const parts = name.split('/').pop().split('-');
    const i = parts.findIndex((p) => OS.includes(p));
    if (i < 0) { console.log('skip', name); continue; }
    pkgs[`node_modules/${name}`] = { version: range.replace(/^[\^~=]/, ''), cpu: [parts[i + 1]], optional: true, os: [parts[i]] };
    added++;
  }
}
const sorted = {};
for (const k of Object.keys(pkgs).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1))) sorted[k] = pkgs[k];
lock.packages = sorted;
fs.writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
if (added) console.log(`package-lock.json: recorded ${added} optional packages of other platforms`);
