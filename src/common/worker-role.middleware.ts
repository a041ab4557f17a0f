import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import { ApiError } from './api-error';

const WORKER_PATHS = new Set(['/health', '/health/ready', '/health/hosts', '/metrics']);

/** A worker process (APP_ROLE=worker) answers probes and metrics only; the API is the api role's. */
@Injectable()
export class WorkerRoleMiddleware implements NestMiddleware {
  constructor(private readonly config: AppConfig) {}

  use(req: Request, _res: Response, next: NextFunction): void {
    // originalUrl: a middleware mounted on a route pattern sees a stripped req.path.
    if (this.config.servesApi || WORKER_PATHS.has(req.originalUrl.split('?')[0] ?? '')) return next();
    next(new ApiError('not_found', 'This process is a queue worker (APP_ROLE=worker); it serves no API'));
  }
}
