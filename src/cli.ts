import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { createAdmin } from './auth/create-admin';
import { buildDataSourceOptions } from './database/data-source';
import { closeEmbeddedDatabase } from './database/database.module';
import { generateOpenApi } from './docs/generate-openapi';
import { validateEnv } from './config/env.schema';
import { describeStartupError } from './startup-error';

type Command = (args: string[]) => Promise<void>;

const commands: Record<string, { help: string; run: Command }> = {
  migrate: {
    help: 'migrate                      run pending migrations on DATABASE_URL (or the embedded database)',
    run: async () => {
      const env = validateEnv({ ...process.env });
      const dataSource = new DataSource(
        buildDataSourceOptions({
          databaseUrl: (env.DATABASE_URL as string) || undefined,
          dataDir: env.DATA_DIR as string,
          databasePoolSize: 2,
          dbMigrate: false,
        }),
      );
      await dataSource.initialize();
      try {
        const ran = await dataSource.runMigrations({ transaction: 'each' });
        process.stdout.write(
          ran.length ? ran.map((m) => `applied ${m.name}`).join('\n') + '\n' : 'no pending migrations\n',
        );
      } finally {
        await dataSource.destroy();
        if (!env.DATABASE_URL) await closeEmbeddedDatabase();
      }
    },
  },
  'create-admin': {
    help: 'create-admin --name NAME     create an admin user and print a fresh admin key (shown once)',
    run: async (args) => {
      const { values } = parseArgs({ args, options: { name: { type: 'string' } }, strict: true });
      const name = values.name?.trim();
      if (!name) throw new Error('create-admin: --name NAME is required');
      const { userId, key } = await createAdmin(name);
      process.stderr.write(`created admin user ${userId}; the key below is shown only once\n`);
      process.stdout.write(`${key}\n`);
    },
  },
  openapi: {
    help: 'openapi [file]               write the OpenAPI document (default ./openapi.json)',
    run: async (args) => {
      const file = resolve(args[0] ?? 'openapi.json');
      writeFileSync(file, JSON.stringify(await generateOpenApi(), null, 2) + '\n');
      process.stdout.write(`wrote ${file}\n`);
    },
  },
};

async function main(argv: string[]): Promise<void> {
  const { positionals } = parseArgs({ args: argv.slice(0, 1), allowPositionals: true, strict: false });
  const name = positionals[0];
  const command = name ? commands[name] : undefined;
  if (!command) {
    process.stdout.write(
      'usage: npm run cli -- <command>\n\n' +
        Object.values(commands)
          .map((c) => `  ${c.help}`)
          .join('\n') +
        '\n',
    );
    process.exitCode = name ? 2 : 0;
    return;
  }
  await command.run(argv.slice(1));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${describeStartupError(error)}\n`);
  process.exit(1);
});
