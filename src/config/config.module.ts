import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig } from './app-config';
import { validateEnv } from './env.schema';

export interface ConfigOverrides {
  /** Values that win over process.env (tests, CLI). */
  env?: Record<string, string | undefined>;
  /** Do not read a `.env` file (tests). */
  ignoreEnvFile?: boolean;
}

@Global()
@Module({})
export class AppConfigModule {
  static forRoot(overrides: ConfigOverrides = {}): DynamicModule {
    // Validate now, synchronously (ConfigModule.forRoot is async and its rejection would escape),
    // and hand ConfigModule the result only: it must not copy one app's settings into
    // process.env, where the next app in the same process (tests, CLI) would inherit them.
    const validated = loadEnv(overrides);
    return {
      module: AppConfigModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          ignoreEnvVars: true,
          skipProcessEnv: true,
          cache: true,
          load: [() => validated],
        }),
      ],
      providers: [AppConfig],
      exports: [AppConfig],
    };
  }
}

/** The validated settings: ./.env (unless ignored), then process.env, then `overrides.env`. */
export function loadEnv(overrides: ConfigOverrides = {}): Record<string, unknown> {
  const fromFile =
    overrides.ignoreEnvFile || !existsSync('.env') ? {} : parseEnv(readFileSync('.env', 'utf8'));
  return validateEnv(withOverrides({ ...fromFile, ...process.env }, overrides.env));
}

function withOverrides(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined> | undefined,
): Record<string, unknown> {
  if (!env) return raw;
  const merged: Record<string, unknown> = { ...raw };
  // An unset override becomes '' (the schema reads '' as unset for optional URLs and keys).
  for (const [name, value] of Object.entries(env)) merged[name] = value ?? '';
  return merged;
}
