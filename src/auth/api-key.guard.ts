import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError } from '../common/api-error';
import { ADMIN_ONLY, IS_PUBLIC } from './auth.decorators';
import type { RequestWithPrincipal } from './principal';
import { RequestAuthenticator } from './request-authenticator';

/**
 * Global guard (APP_GUARD): every route needs a valid key unless @Public(); @AdminOnly() routes
 * also need the admin role. A plain guard rather than passport-headerapikey: three header forms,
 * a cache and an IP check fit one small class better than a strategy plus glue, and errors stay
 * ApiErrors that the global filter renders per API surface.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: RequestAuthenticator,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    // WebSocket messages: the gateway authenticates the connection at the handshake.
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<RequestWithPrincipal>();
    const principal = await this.authenticator.authenticate(req);
    req.principal = principal;
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, targets) && principal.role !== 'admin') {
      throw new ApiError('forbidden');
    }
    return true;
  }
}
