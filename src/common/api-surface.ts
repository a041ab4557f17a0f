/**
 * The API surface a request belongs to decides its error format. Decided by path once, here, so
 * errors raised before routing (bad JSON, unknown routes, auth) are formatted like the rest.
 */
export type ApiSurface =
  'native' | 'openai' | 'serverless' | 'llmapi' | 'anthropic' | 'ollama' | 'admin' | 'ops';

/** Ollama's API paths (seed 000's /api/v1/... keeps its own surface). */
const OLLAMA_PATHS = new Set([
  '/api/tags',
  '/api/show',
  '/api/chat',
  '/api/generate',
  '/api/embed',
  '/api/embeddings',
  '/api/version',
]);

export function surfaceOf(path: string): ApiSurface {
  if (path.startsWith('/api/v1/ai/') || path === '/api/v1/ai') return 'serverless';
  if (OLLAMA_PATHS.has(path)) return 'ollama';
  if (path.startsWith('/api/')) return 'native';
  if (path === '/v1/messages' || path.startsWith('/v1/messages/')) return 'anthropic';
  if (path.startsWith('/v1/') || path === '/v1') return 'openai';
  if (path.startsWith('/text_model/') || path.startsWith('/image_model/')) return 'llmapi';
  if (path.startsWith('/admin/') || path === '/admin') return 'admin';
  return 'ops';
}
