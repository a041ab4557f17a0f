import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { AppConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { BillingModule } from '../../src/billing/billing.module';
import type { TestApp } from '../support/test-app';

export async function startTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  @Module({
    imports: [
      AppConfigModule.forRoot({
        ignoreEnvFile: true,
        env: { NODE_ENV: 'test', DATABASE_URL: process.env.LE_TEST_DATABASE_URL, LOG_LEVEL: 'silent', ...env },
      }),
      DatabaseModule,
      BillingModule,
    ],
  })
  class Scratch {}
  const app = await NestFactory.create<NestExpressApplication>(Scratch, { logger: ['error', 'warn'] });
  await app.init();
  return { app, url: '', redisPrefix: '', dataSource: app.get(DataSource), close: () => app.close() };
}
