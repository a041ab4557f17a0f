import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError } from './api-error';

/** Flattens class-validator errors into "field: reason" lines, naming nested fields by path. */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  const lines: string[] = [];
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    for (const text of Object.values(error.constraints ?? {})) lines.push(`${path}: ${text}`);
    if (error.children?.length) lines.push(...describeValidationErrors(error.children, path));
  }
  return lines;
}

function firstPath(errors: ValidationError[], parent = ''): string | undefined {
  const error = errors[0];
  if (!error) return undefined;
  const path = parent ? `${parent}.${error.property}` : error.property;
  return error.children?.length ? (firstPath(error.children, path) ?? path) : path;
}

/** The global pipe: DTO validation whose failures are 400 `invalid_request` naming the field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: false,
    forbidUnknownValues: false,
    exceptionFactory: (errors) =>
      new ApiError('invalid_request', describeValidationErrors(errors).join('; '), firstPath(errors)),
  });
}
