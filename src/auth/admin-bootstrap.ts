import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AuthService } from './auth.service';

/**
 * Makes ADMIN_API_KEY a working admin key at start (its shape and strength were checked with the
 * rest of the environment, see env.schema.ts, so a weak key never gets this far).
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    private readonly config: AppConfig,
    private readonly auth: AuthService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.adminApiKey) return;
    const { userId } = await this.auth.ensureAdminKey(this.config.adminApiKey);
    this.logger.log(`ADMIN_API_KEY is active for admin user ${userId}`);
  }
}
