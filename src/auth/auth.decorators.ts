import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal, RequestWithPrincipal } from './principal';

export const IS_PUBLIC = 'le:public';
export const ADMIN_ONLY = 'le:admin-only';

/** No API key needed (health, docs, metrics). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Only keys of admin users; user keys get 403. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

/** CurrentPrincipal's factory (the fast path recognises the parameter by it). */
export function principalOf(_data: unknown, ctx: ExecutionContext): Principal {
  const req = ctx.switchToHttp().getRequest<RequestWithPrincipal>();
  if (!req.principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return req.principal;
}

/** The authenticated caller. */
export const CurrentPrincipal = createParamDecorator(principalOf);
