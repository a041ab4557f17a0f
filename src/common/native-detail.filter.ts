import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { API_ERRORS } from './api-error';
import { toApiError } from './api-exception.filter';

/**
 * The native shape `{"success": false, "message"}` for the self-service routes under /api/v1,
 * keeping a specific message ("rpm: at most 60 …") where the seed's table has no text of its own;
 * errors with their default message (auth, not found…) keep the seed's words.
 */
@Catch()
export class NativeDetailFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const error = toApiError(exception);
    const spec = API_ERRORS[error.code];
    const message = error.message === spec.message ? spec.native : error.message;
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(error.status).json({ success: false, message });
  }
}
