import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisService } from './redis.service';

@Global()
@Module({
  providers: [
    {
      provide: RedisService,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const redis = new RedisService(config);
        await redis.init();
        return redis;
      },
    },
  ],
  exports: [RedisService],
})
export class RedisModule {}
