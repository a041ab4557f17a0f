import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard, type AuthGuardAuthenticateOptions } from '@nestjs/passport';
import { ApiError } from '../common/api-error';
import { API_KEY_STRATEGIES, lendAuthenticator, registerApiKeyStrategies } from './api-key.strategy';
import { ADMIN_ONLY, IS_PUBLIC } from './auth.decorators';
import type { Principal, RequestWithPrincipal } from './principal';
import { RequestAuthenticator } from './request-authenticator';

/**
 * Global guard (APP_GUARD): every route needs a valid key unless @Public(); @AdminOnly() routes
 * also need the admin role. @nestjs/passport's AuthGuard over the passport-headerapikey
 * strategies of api-key.strategy.ts; errors stay ApiErrors that the global filter renders per
 * API surface (CONTRACT §1/§2 texts).
 */
@Injectable()
export class ApiKeyGuard extends AuthGuard(API_KEY_STRATEGIES) {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: RequestAuthenticator,
  ) {
    super();
    registerApiKeyStrategies();
  }

  override async canActivate(ctx: ExecutionContext): Promise<boolean> {
    // WebSocket messages: the gateway authenticates the connection at the handshake.
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<RequestWithPrincipal>();
    lendAuthenticator(req, this.authenticator);
    await super.canActivate(ctx);
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, targets) && req.principal?.role !== 'admin') {
      throw new ApiError('forbidden');
    }
    return true;
  }

  /** The principal goes to `req.principal`; no session. */
  override getAuthenticateOptions(): AuthGuardAuthenticateOptions {
    return { session: false, property: 'principal' };
  }

  /** A strategy's error is the authenticator's ApiError; no key in either header is CONTRACT's 401. */
  override handleRequest<TUser = Principal>(err: unknown, user: TUser | false): TUser {
    if (err) throw err;
    if (!user) throw new ApiError('missing_api_key');
    return user;
  }
}
