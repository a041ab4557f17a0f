/**
 * The API surface a request belongs to decides its error format. Decided by path once, here, so
 * errors raised before routing (bad JSON, unknown routes, auth) are formatted like the rest.
 */
export type ApiSurface = 'native' | 'openai' | 'serverless' | 'llmapi' | 'admin' | 'ops';

export function surfaceOf(path: string): ApiSurface {
  if (path.startsWith('/api/v1/ai/') || path === '/api/v1/ai') return 'serverless';
  if (path.startsWith('/api/')) return 'native';
  if (path.startsWith('/v1/') || path === '/v1') return 'openai';
  if (path.startsWith('/text_model/') || path.startsWith('/image_model/')) return 'llmapi';
  if (path.startsWith('/admin/') || path === '/admin') return 'admin';
  return 'ops';
}
