import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIObject } from '@nestjs/swagger';
import { createApp } from '../app.factory';
import { isolatedEmbeddedEnv } from '../config/isolated-env';
import { buildOpenApiDocument } from './docs';

/** Boots the app on a throwaway embedded database and returns its OpenAPI document. */
export async function generateOpenApi(): Promise<OpenAPIObject> {
  const dataDir = mkdtempSync(join(tmpdir(), 'le-openapi-'));
  // API role: no queue worker starts, so nothing is left half-connected when it closes at once.
  const app = await createApp({
    ignoreEnvFile: true,
    env: { ...isolatedEmbeddedEnv(dataDir), APP_ROLE: 'api' },
  });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
