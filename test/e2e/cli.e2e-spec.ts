import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBuilt } from '../support/spawn-app';

/** The built CLI as the Docker image runs it (`npm run cli` = `node dist/src/cli.js`, no build). */
async function cli(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawnBuilt(join(process.cwd(), 'dist/src/cli.js'), args, {
    // Would be migrated / written to if a command ran: --help must touch nothing.
    DATA_DIR: join(cwd, 'data'),
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never',
  });
  p.child.stdin.end();
  const [code] = await p.exit;
  return { code, out: p.out(), err: p.err() };
}

const COMMANDS = ['migrate', 'create-admin', 'openapi'];

describe('CLI (dist/src/cli.js)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'le-cli-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('with no command or --help prints the usage listing every command, exit 0', async () => {
    for (const args of [[], ['--help'], ['-h'], ['help']]) {
      const r = await cli(args, cwd);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^usage: llmendpoint <command>/);
      for (const name of COMMANDS) expect(r.out).toContain(`  ${name}`);
    }
  });

  it.each(COMMANDS)('%s --help prints its usage and runs nothing', async (name) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([name, flag], cwd);
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out).toMatch(new RegExp(`^usage: llmendpoint ${name}`));
      expect(r.out).toContain('--help');
    }
    // Nothing was migrated, created or written.
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('an unknown command gives the usage on stderr and exit code 2', async () => {
    const r = await cli(['migrat'], cwd);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^unknown command: migrat\n\nusage: llmendpoint <command>/);
  });

  it.each([
    ['migrate', '--dry-run'],
    ['create-admin', '--nam'],
    ['openapi', '--out'],
  ])('%s with an unknown flag %s gives its usage and exit code 2', async (name, flag) => {
    const r = await cli([name, flag], cwd);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`Unknown option '${flag}'`);
    expect(r.err).toContain(`usage: llmendpoint ${name}`);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('create-admin without --name and migrate with an argument are usage errors (exit 2)', async () => {
    const admin = await cli(['create-admin'], cwd);
    expect(admin.code).toBe(2);
    expect(admin.err).toMatch(
      /^create-admin: --name NAME is required\n\nusage: llmendpoint create-admin --name NAME/,
    );
    const migrate = await cli(['migrate', 'now'], cwd);
    expect(migrate.code).toBe(2);
    expect(migrate.err).toMatch(/^migrate: unexpected argument now/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('package.json runs the built CLI without compiling (the image has no TypeScript)', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })) as {
      default: { scripts: Record<string, string> };
    };
    expect(pkg.default.scripts.cli).toBe('node dist/src/cli.js');
  });
});
