import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { extractApiKey } from './api-key.header';
import { AuthService } from './auth.service';
import { ClientIpResolver } from './client-ip.resolver';
import type { Principal } from './principal';

/**
 * Authenticates a raw HTTP request (headers + peer address). The guard uses it for routes; a
 * WebSocket gateway can call it with the upgrade request.
 */
@Injectable()
export class RequestAuthenticator {
  constructor(
    private readonly auth: AuthService,
    private readonly clientIp: ClientIpResolver,
  ) {}

  async authenticate(req: IncomingMessage): Promise<Principal> {
    const key = extractApiKey(req.headers);
    if (!key) throw new ApiError('missing_api_key');
    return this.auth.verify(key, this.clientIp.resolve(req));
  }
}
