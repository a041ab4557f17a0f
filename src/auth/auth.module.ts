import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminBootstrap } from './admin-bootstrap';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyGuard } from './api-key.guard';
import { AuthService } from './auth.service';
import { ClientIpResolver } from './client-ip.resolver';
import { Clock } from './clock';
import { LastUsedRecorder } from './last-used.recorder';
import { RandomSource } from './random.source';
import { RequestAuthenticator } from './request-authenticator';
import { SelfServiceKeysService } from './self-service-keys.service';
import { UserEntity } from './user.entity';
import { VerifiedKeyCache } from './verified-key.cache';

/** Users, API keys, the global key guard and the ADMIN_API_KEY bootstrap. */
@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, ApiKeyEntity])],
  providers: [
    AuthService,
    RequestAuthenticator,
    ClientIpResolver,
    VerifiedKeyCache,
    LastUsedRecorder,
    RandomSource,
    Clock,
    AdminBootstrap,
    SelfServiceKeysService,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [AuthService, RequestAuthenticator, SelfServiceKeysService],
})
export class AuthModule {}
