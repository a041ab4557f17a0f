import Joi from 'joi';
import { adminKeyProblem } from '../auth/api-key.format';
import { isValidRange } from '../auth/ip-address';

const bool = Joi.boolean().truthy('on', 'yes', '1').falsy('off', 'no', '0');

/**
 * Every environment variable the platform reads, with its default.
 * `.env.example` mirrors this list; keep them in step.
 */
export const envSchema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  APP_ROLE: Joi.string().valid('api', 'worker', 'all', 'migrate').default('all'),
  PORT: Joi.number().integer().min(0).max(65535).default(3000),
  HOST: Joi.string().default('0.0.0.0'),
  // API processes sharing PORT (node:cluster, src/cluster.ts); above 1 needs DATABASE_URL and REDIS_URL.
  WEB_CONCURRENCY: Joi.number().integer().min(1).max(64).default(1),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  // Hard-exit deadline after SIGTERM; keep it below the pod's terminationGracePeriodSeconds.
  SHUTDOWN_GRACE_MS: Joi.number().integer().min(0).default(10000),
  // After SIGTERM, keep accepting this long while readiness reports unready (load balancers catch up).
  SHUTDOWN_DRAIN_MS: Joi.number()
    .integer()
    .min(0)
    .default(2000)
    .when('SHUTDOWN_GRACE_MS', {
      is: Joi.number().min(1),
      then: Joi.number()
        .less(Joi.ref('SHUTDOWN_GRACE_MS'))
        .messages({ 'number.less': '{{#label}} must be below SHUTDOWN_GRACE_MS (the hard-exit deadline)' }),
    }),
  BODY_LIMIT: Joi.string().default('20mb'),

  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .allow('')
    .optional(),
  DATABASE_POOL_SIZE: Joi.number().integer().min(1).max(500).default(20),
  DATA_DIR: Joi.string().default('./data'),
  DB_MIGRATE: bool.default(true),

  REDIS_URL: Joi.string()
    .uri({ scheme: ['redis', 'rediss'] })
    .allow('')
    .optional(),
  REDIS_PREFIX: Joi.string().default('le'),

  ADMIN_API_KEY: Joi.string()
    .allow('')
    .optional()
    .custom((value: string, helpers) => {
      const problem = adminKeyProblem(value);
      return problem ? helpers.message({ custom: problem }) : value;
    }),
  RATE_LIMIT_FAIL_OPEN: bool.default(true),
  DATABASE_CONNECT_TIMEOUT_MS: Joi.number().integer().min(100).max(60000).default(3000),
  CORS_ORIGINS: Joi.string()
    .allow('')
    .default('')
    .custom((value: string, helpers) => {
      const bad = value.split(',').find((entry) => entry.trim() !== '' && !isOrigin(entry.trim()));
      return bad === undefined
        ? value
        : helpers.message({ custom: `${bad.trim()} is not an origin (scheme://host[:port]) or *` });
    }),
  AUTH_CACHE_TTL_MS: Joi.number().integer().min(0).max(60000).default(5000),
  SELF_SERVICE_MAX_KEYS: Joi.number().integer().min(0).max(1000).default(5),
  TRUST_PROXY: Joi.string()
    .allow('')
    .default('')
    .custom((value: string, helpers) => {
      const bad = value.split(',').find((entry) => entry.trim() !== '' && !isValidRange(entry));
      return bad === undefined
        ? value
        : helpers.message({ custom: `${bad.trim()} is not an IP address or CIDR range` });
    }),

  RESERVATION_TIMEOUT_MS: Joi.number().integer().min(1000).default(600000),
  BILLING_SYNCHRONOUS_COMMIT: bool.default(false),
  BILLING_CREDIT_LEASES: bool.default(true),
  BILLING_LEASE_IDLE_MS: Joi.number().integer().min(0).max(3600000).default(1000),
  BILLING_SETTLE_DELAY_MS: Joi.number().integer().min(0).max(1000).default(25),
  RESERVATION_SWEEP_INTERVAL_MS: Joi.number().integer().min(100).default(60000),

  HOSTS: Joi.string().allow('').default(''),
  HOST_CHECK_INTERVAL_MS: Joi.number().integer().min(50).default(5000),
  HOST_FAIL_THRESHOLD: Joi.number().integer().min(1).default(3),
  HOST_COOLDOWN_MS: Joi.number().integer().min(0).default(30000),
  HOST_CONNECT_TIMEOUT_MS: Joi.number().integer().min(1).default(5000),
  HOST_FIRST_BYTE_TIMEOUT_MS: Joi.number().integer().min(1).default(120000),
  MAX_ATTEMPTS: Joi.number().integer().min(1).max(20).default(3),
  // GPU-aware routing (src/hosts/routing-policy.ts, cluster-slots.ts; README "Routing").
  ROUTING_POLICY: Joi.string().valid('affinity', 'least-loaded', 'round-robin', 'random').default('affinity'),
  HOST_SLOT_SCOPE: Joi.string().valid('cluster', 'process').default('cluster'),
  HOST_SLOT_LEASE_MS: Joi.number().integer().min(500).max(600000).default(10000),
  HOST_WAIT_QUEUE: Joi.number().integer().min(0).max(100000).default(100),
  HOST_WAIT_MS: Joi.number().integer().min(0).max(600000).default(5000),

  QUEUE_CONCURRENCY: Joi.number().integer().min(1).max(1000).default(4),
  QUEUE_ATTEMPTS: Joi.number().integer().min(1).max(20).default(3),
  TASK_RETENTION_HOURS: Joi.number().min(0).default(24),
  // Bull job lock (and task lease) length; a dead worker's job is rerun after about this long.
  QUEUE_LOCK_DURATION_MS: Joi.number().integer().min(200).default(30000),
  QUEUE_STALLED_INTERVAL_MS: Joi.number().integer().min(100).default(30000),
  QUEUE_BACKOFF_MS: Joi.number().integer().min(0).default(2000),
  QUEUE_MAINTENANCE_INTERVAL_MS: Joi.number().integer().min(100).default(30000),
  WEBHOOK_SECRET: Joi.string().allow('').default(''),
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),

  // OpenTelemetry traces (src/observability): off unless the OTLP/HTTP endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .allow('')
    .default(''),
  OTEL_SERVICE_NAME: Joi.string().default('llmendpoint'),
  // The share of completions traced (parent-based ratio sampler), 0 to 1.
  OTEL_TRACES_SAMPLER_ARG: Joi.number().min(0).max(1).default(1),

  TEXT_MODEL: Joi.string().allow('').default('llama3.1'),
  IMAGE_MODEL: Joi.string().allow('').default('llava'),
}).unknown(true);

/** Validates the environment; a bad value throws one line naming the variable. */
export function validateEnv(raw: Record<string, unknown>): Record<string, unknown> {
  const { error, value } = envSchema.validate(raw, { abortEarly: true, convert: true });
  if (error) {
    const detail = error.details[0];
    const name = String(detail?.path?.[0] ?? detail?.context?.key ?? 'environment');
    const message = (detail?.message ?? error.message).replace(/"/g, '');
    throw new ConfigError(`Invalid configuration: ${name}: ${message}`);
  }
  return value as Record<string, unknown>;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** `*`, or an origin as browsers send it: scheme://host[:port], no path. */
function isOrigin(value: string): boolean {
  if (value === '*') return true;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
