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
    .setTitle('LlmEndpoint API')
    .setDescription(
      'Self-hostable inference platform: one API (native, OpenAI-compatible and compatibility ' +
        'surfaces) over a fleet of GPU hosts, billed per model from a prepaid credit balance.\n\n' +
        'Every operation except the operations group needs an API key (`sk-le-…`, issued by ' +
        '`POST /admin/users/{id}/keys`), sent as `Authorization: Bearer <key>`, as a bare ' +
        '`Authorization: <key>` or as `X-API-Key: <key>`. Errors come in the shape of the surface ' +
        'the request was made on; each operation lists its own.',
    )
    .setVersion('1')
    // Not addBearerAuth(): it would declare `bearerFormat: JWT`, and these keys are opaque.
    .addSecurity('bearer', {
      type: 'http',
      scheme: 'bearer',
      description:
        'An LlmEndpoint API key: `sk-le-<public id>-<secret>` (opaque, not a JWT). Also accepted as a bare ' +
        '`Authorization: <key>` header (seed 000).',
    })
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
        description: 'The same `sk-le-…` key in `X-API-Key`.',
      },
      'x-api-key',
    )
    .addTag(
      'native',
      'Seed 000: completions, queued completions (`{"success": …}` envelopes, NDJSON streams)',
    )
    .addTag('account', 'The caller’s own balance')
    .addTag('openai', 'OpenAI-compatible API: the official SDKs work with `baseURL` `…/v1`')
    .addTag(
      'responses',
      'OpenAI Responses API (`responses.create`, the Vercel AI SDK, agents): typed SSE events, stored responses',
    )
    .addTag(
      'anthropic',
      'Anthropic Messages API (`@anthropic-ai/sdk`): `x-api-key`, its SSE events and error shape',
    )
    .addTag(
      'ollama',
      'Ollama-compatible API (Open WebUI, continue.dev, the `ollama` client): NDJSON, `{"error"}` errors',
    )
    .addTag('serverless', 'Seed 002: OpenAI chat completions in the `{"code","msg","data"}` envelope')
    .addTag('llm-api', 'Seed 001: text and image models, `{"detail"}` errors')
    .addTag('admin: users and keys', 'Admin keys only: users, API keys')
    .addTag('admin: credits and rates', 'Admin keys only: top-ups, the ledger, per-model rates')
    .addTag('admin: GPU hosts', 'Admin keys only: the GPU host registry')
    .addTag(
      'admin: usage',
      "Admin keys only: usage and spend from the hourly aggregate, a user's recent requests",
    )
    .addTag('admin: queue', 'Admin keys only: queue depth and recent failures')
    .addTag('operations', 'Probes and metrics (no key)')
    .build();
  return SwaggerModule.createDocument(app, config, { deepScanRoutes: true });
}

const REDOC_PAGE = `<!DOCTYPE html>
<html>
  <head>
    <title>LlmEndpoint API — ReDoc</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="data:,">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <div id="redoc"></div>
    <script src="/redoc/redoc.standalone.js"></script>
    <script src="/redoc/init.js"></script>
  </body>
</html>
`;

/**
 * ReDoc's own theme asks for Roboto and Montserrat (web fonts its sample page loads from Google);
 * the page loads none, so use the system's fonts instead of silently falling back.
 */
const REDOC_INIT = `Redoc.init('/docs-json', {
  theme: {
    typography: {
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
      headings: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
      code: { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' },
    },
  },
}, document.getElementById('redoc'));
`;

/** ReDoc's sidebar footer shows Redocly's logo from its CDN; the bundle is served pointing here instead. */
const REDOC_LOGO_CDN = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const REDOC_LOGO_PATH = '/redoc/logo-mini.svg';
const REDOC_LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="16" height="16">
<rect width="16" height="16" rx="3" fill="#32329f"/><path d="M4 4h2v6h6v2H4z" fill="#fff"/></svg>
`;

/** Swagger UI at /docs, the document at /docs-json, ReDoc at /redoc: every asset served locally. */
export function setupDocs(app: INestApplication, document: () => OpenAPIObject): void {
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'LlmEndpoint API',
    // No online validator badge (validator.swagger.io): the page works with no network.
    swaggerOptions: { persistAuthorization: true, validatorUrl: null },
  });
  // Read on first use (≈ 2 MB that a process serving only the API never needs to hold).
  let redocBundle: Buffer | undefined;
  const bundle = () =>
    (redocBundle ??= Buffer.from(
      readFileSync(resolvePackageFile('redoc/bundles/redoc.standalone.js'), 'utf8')
        .split(REDOC_LOGO_CDN)
        .join(REDOC_LOGO_PATH),
    ));
  const http = app.getHttpAdapter();
  http.get('/redoc', (_req: Request, res: Response) => {
    res.type('html').send(REDOC_PAGE);
  });
  http.get('/redoc/redoc.standalone.js', (_req: Request, res: Response) => {
    res.type('application/javascript').setHeader('Cache-Control', 'public, max-age=86400');
    res.send(bundle());
  });
  http.get('/redoc/init.js', (_req: Request, res: Response) => {
    res.type('application/javascript').send(REDOC_INIT);
  });
  http.get(REDOC_LOGO_PATH, (_req: Request, res: Response) => {
    res.type('image/svg+xml').setHeader('Cache-Control', 'public, max-age=86400');
    res.send(REDOC_LOGO);
  });
}
