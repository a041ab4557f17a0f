import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfigModule, ConfigOverrides } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { AuthModule } from './auth.module';
import { AuthService } from './auth.service';

/** Just enough of the app to issue keys: configuration, the database (migrated) and auth. */
@Module({})
class CreateAdminModule {
  static forRoot(overrides: ConfigOverrides): DynamicModule {
    return {
      module: CreateAdminModule,
      imports: [AppConfigModule.forRoot(overrides), DatabaseModule, AuthModule],
    };
  }
}

/** Creates an admin user named `name` with a fresh key; returns the user id and the plaintext key. */
export async function createAdmin(
  name: string,
  overrides: ConfigOverrides = {},
): Promise<{ userId: string; key: string }> {
  const app = await NestFactory.createApplicationContext(CreateAdminModule.forRoot(overrides), {
    logger: false,
    abortOnError: false,
  });
  try {
    const auth = app.get(AuthService);
    const user = await auth.createUser({ name, role: 'admin' });
    const issued = await auth.createKey(user.id, { name: 'create-admin' });
    return { userId: user.id, key: issued.key };
  } finally {
    await app.close();
  }
}
