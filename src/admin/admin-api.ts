import { applyDecorators, Controller, ParseUUIDPipe } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { ApiError } from '../common/api-error';
import { ApiErrors, AUTH_ERRORS } from '../docs/api-errors';

/** A controller of the admin API: under /admin, admin keys only, documented as such (`tag` groups it). */
export const AdminApiController = (tag: string) =>
  applyDecorators(
    ApiTags(tag),
    ApiBearerAuth('bearer'),
    ApiSecurity('x-api-key'),
    AdminOnly(),
    ApiErrors('admin', ...AUTH_ERRORS, ['forbidden', 'This API key may not use this endpoint']),
    Controller('admin'),
  );

/** A malformed id is the caller's mistake (400 naming `id`), not a 500 from the database. */
export const uuidParam = new ParseUUIDPipe({
  exceptionFactory: () => new ApiError('invalid_request', 'id: must be a UUID', 'id'),
});
