import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Request, Response } from 'express';

/** Resolves a file inside an installed package, from the app's folder (works in CJS and ESM). */
function resolvePackageFile(spec: string): string {
  return createRequire(join(process.cwd(), 'package.json')).resolve(spec);
}

/** The OpenAPI document, generated from the controllers' decorators. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('LlmEndpoint')
    .setDescription(
      'Self-hostable inference platform: one API (native, OpenAI-compatible and compatibility ' +
        'surfaces) over a fleet of GPU hosts, billed per model from a prepaid credit balance.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Authorization: Bearer sk-le-…' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'x-api-key')
    .build();
  return SwaggerModule.createDocument(app, config, { deepScanRoutes: true });
}

const REDOC_PAGE = `<!DOCTYPE html>
<html>
  <head>
    <title>LlmEndpoint API — ReDoc</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="/docs-json"></redoc>
    <script src="/redoc/redoc.standalone.js"></script>
  </body>
</html>
`;

/** Swagger UI at /docs, the document at /docs-json, ReDoc at /redoc: every asset served locally. */
export function setupDocs(app: INestApplication, document: OpenAPIObject): void {
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'LlmEndpoint API',
    swaggerOptions: { persistAuthorization: true },
  });
  const redocBundle = readFileSync(resolvePackageFile('redoc/bundles/redoc.standalone.js'));
  const http = app.getHttpAdapter();
  http.get('/redoc', (_req: Request, res: Response) => {
    res.type('html').send(REDOC_PAGE);
  });
  http.get('/redoc/redoc.standalone.js', (_req: Request, res: Response) => {
    res.type('application/javascript').setHeader('Cache-Control', 'public, max-age=86400');
    res.send(redocBundle);
  });
}
