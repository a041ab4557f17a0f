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
    // Validate now, synchronously: ConfigModule.forRoot is async and its rejection would escape.
    const fromFile =
      overrides.ignoreEnvFile || !existsSync('.env') ? {} : parseEnv(readFileSync('.env', 'utf8'));
    validateEnv(withOverrides({ ...fromFile, ...process.env }, overrides.env));
    return {
      module: AppConfigModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: overrides.ignoreEnvFile ?? false,
          envFilePath: '.env',
          cache: true,
          validate: (raw) => validateEnv(withOverrides(raw, overrides.env)),
        }),
      ],
      providers: [AppConfig],
      exports: [AppConfig],
    };
  }
}

function withOverrides(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined> | undefined,
): Record<string, unknown> {
  if (!env) return raw;
  const merged: Record<string, unknown> = { ...raw };
  // An unset override becomes '' so ConfigService never falls back to process.env for it.
  for (const [name, value] of Object.entries(env)) merged[name] = value ?? '';
  return merged;
}
