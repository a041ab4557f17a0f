import { applyDecorators, Controller, ParseUUIDPipe } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { ApiError } from '../common/api-error';

/** A controller of the admin API: under /admin, admin keys only, documented as such. */
export const AdminApiController = () =>
  applyDecorators(
    ApiTags('admin'),
    ApiBearerAuth('bearer'),
    AdminOnly(),
    ApiForbiddenResponse({ description: 'The key is not an admin key' }),
    Controller('admin'),
  );

/** A malformed id is the caller's mistake (400 naming `id`), not a 500 from the database. */
export const uuidParam = new ParseUUIDPipe({
  exceptionFactory: () => new ApiError('invalid_request', 'id: must be a UUID', 'id'),
});
