import { ConfigError } from './config/env.schema';
import { describeDatabase } from './database/data-source';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']);

/** One clear line for a failed start: which setting is wrong, or what could not be reached. */
export function describeStartupError(error: unknown): string {
  if (error instanceof ConfigError) return `LlmEndpoint did not start. ${error.message}`;
  const err = error as { code?: string; message?: string; errors?: { code?: string; message?: string }[] };
  const code = err.code ?? err.errors?.[0]?.code;
  const message = err.message || err.errors?.[0]?.message || String(error);
  const pgAuthOrMissing = code !== undefined && /^(28|3D)/.test(code);
  if ((code && NETWORK_CODES.has(code)) || pgAuthOrMissing || /database|postgres/i.test(message)) {
    const where = describeDatabase({
      databaseUrl: process.env.DATABASE_URL,
      dataDir: process.env.DATA_DIR ?? './data',
    });
    return `LlmEndpoint did not start: cannot use the database (DATABASE_URL=${where}): ${code ?? ''} ${message}`.trim();
  }
  return `LlmEndpoint did not start: ${message}`;
}
