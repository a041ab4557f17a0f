import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeStartupError } from './startup-error';

// Commands load the app's modules when they run, so `--help` and usage errors answer at once.

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  usage: string;
  summary: string;
  /** Lines after the usage in `<command> --help`. */
  details: string;
  options: Options;
  /** Most positional arguments accepted. */
  maxPositionals: number;
  run(values: ReturnType<typeof parseArgs>['values'], positionals: string[]): Promise<void>;
}

const HELP: Options = { help: { type: 'boolean', short: 'h' } };

const commands: Record<string, Command> = {
  migrate: {
    usage: 'migrate',
    summary: 'run pending migrations on DATABASE_URL (or the embedded database), then exit',
    details:
      'Reads DATABASE_URL and DATA_DIR from the environment (and ./.env). Takes a PostgreSQL\n' +
      'advisory lock for the run, so replicas and this command never migrate at the same time.',
    options: HELP,
    maxPositionals: 0,
    run: async () => {
      const { loadEnv } = await import('./config/config.module.js');
      const { migrateDatabase } = await import('./database/migrate.js');
      const env = loadEnv();
      const ran = await migrateDatabase({
        databaseUrl: (env.DATABASE_URL as string) || undefined,
        dataDir: env.DATA_DIR as string,
      });
      process.stdout.write(
        ran.length ? ran.map((m) => `applied ${m}`).join('\n') + '\n' : 'no pending migrations\n',
      );
    },
  },
  'create-admin': {
    usage: 'create-admin --name NAME',
    summary: 'create an admin user and print a fresh admin key (shown once)',
    details:
      'Migrates the database first if DB_MIGRATE is on. The key goes to stdout, the message to\n' +
      'stderr, so `KEY=$(npm run --silent cli -- create-admin --name ops)` works.',
    options: { ...HELP, name: { type: 'string', short: 'n' } },
    maxPositionals: 0,
    run: async (values) => {
      const name = typeof values.name === 'string' ? values.name.trim() : '';
      if (!name) throw new UsageError('create-admin: --name NAME is required');
      const { createAdmin } = await import('./auth/create-admin.js');
      const { userId, key } = await createAdmin(name);
      process.stderr.write(`created admin user ${userId}; the key below is shown only once\n`);
      process.stdout.write(`${key}\n`);
    },
  },
  openapi: {
    usage: 'openapi [FILE]',
    summary: 'write the OpenAPI document (default ./openapi.json)',
    details: 'Boots the app on a throwaway embedded database; nothing else is touched.',
    options: HELP,
    maxPositionals: 1,
    run: async (_values, positionals) => {
      const { generateOpenApi } = await import('./docs/generate-openapi.js');
      const file = resolve(positionals[0] ?? 'openapi.json');
      writeFileSync(file, JSON.stringify(await generateOpenApi(), null, 2) + '\n');
      process.stdout.write(`wrote ${file}\n`);
    },
  },
};

/** A mistake in the command line: usage on stderr, exit code 2. */
class UsageError extends Error {}

function overview(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return (
    'usage: llmendpoint <command> [options]      (npm run cli -- <command> [options])\n\n' +
    'commands:\n' +
    Object.values(commands)
      .map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`)
      .join('\n') +
    "\n\n`<command> --help` shows a command's options.\n"
  );
}

function commandHelp(command: Command): string {
  return `usage: llmendpoint ${command.usage}\n\n${command.summary}.\n${command.details}\n\n  -h, --help  show this help\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`unknown command: ${name}\n\n${overview()}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  if (parsed.positionals.length > command.maxPositionals) {
    process.stderr.write(
      `${name}: unexpected argument ${parsed.positionals[command.maxPositionals]}\n\n${commandHelp(command)}`,
    );
    return 2;
  }
  try {
    await command.run(parsed.values, parsed.positionals);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${commandHelp(command)}`);
    return 2;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${describeStartupError(error)}\n`);
    process.exit(1);
  },
);
