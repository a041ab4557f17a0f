import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

export type RoutingPolicyName = 'affinity' | 'least-loaded' | 'round-robin' | 'random';

/** `migrate` runs the migrations and exits (main.ts); it never builds the app. */
export type AppRole = 'api' | 'worker' | 'all' | 'migrate';

/** Typed, validated configuration. Built once from the validated environment. */
@Injectable()
export class AppConfig {
  readonly nodeEnv: string;
  readonly role: AppRole;
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly shutdownDrainMs: number;
  readonly bodyLimit: string;

  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  readonly dataDir: string;
  readonly dbMigrate: boolean;

  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;

  readonly adminApiKey: string | undefined;
  readonly authCacheTtlMs: number;
  /** Live keys a user may hold before self-service creation is refused (0: no self-service keys). */
  readonly selfServiceMaxKeys: number;
  readonly trustProxy: string[];
  /** Redis unreachable: serve keys with rpm/tpm limits without them (true) or answer 503. */
  readonly rateLimitFailOpen: boolean;
  /** Longest wait for a database connection from the pool (then 503). */
  readonly databaseConnectTimeoutMs: number;
  /** Origins browser clients may call the API from (`*` for any); none by default. */
  readonly corsOrigins: string[];

  readonly reservationTimeoutMs: number;
  /** Reserve and settle statements wait for their WAL flush (true) or commit asynchronously. */
  readonly billingSynchronousCommit: boolean;
  /** Synchronous requests are admitted on per-process credit leases (src/billing/credit-leases.ts). */
  readonly billingCreditLeases: boolean;
  /** An unused credit lease is given back after this long. */
  readonly billingLeaseIdleMs: number;
  /** Settles of lease requests wait this long to share a statement (nobody waits on them). */
  readonly billingSettleDelayMs: number;
  readonly reservationSweepIntervalMs: number;

  readonly hosts: string;
  readonly hostCheckIntervalMs: number;
  readonly hostFailThreshold: number;
  readonly hostCooldownMs: number;
  readonly hostConnectTimeoutMs: number;
  readonly hostFirstByteTimeoutMs: number;
  readonly maxAttempts: number;
  /** How the dispatcher ranks free hosts (src/hosts/routing-policy.ts). */
  readonly routingPolicy: RoutingPolicyName;
  /** `cluster`: max_concurrency counted across replicas in Redis; `process`: per process (the old way). */
  readonly hostSlotScope: 'cluster' | 'process';
  /** A replica's host slots expire this long after its last heartbeat (a crashed replica's come back). */
  readonly hostSlotLeaseMs: number;
  /** Requests per model that may wait for a slot when every host is full (0: fail at once). */
  readonly hostWaitQueue: number;
  /** Longest such wait before the usual no_available_hosts error. */
  readonly hostWaitMs: number;

  readonly queueConcurrency: number;
  readonly queueAttempts: number;
  readonly taskRetentionHours: number;
  readonly queueLockDurationMs: number;
  readonly queueStalledIntervalMs: number;
  readonly queueBackoffMs: number;
  readonly queueMaintenanceIntervalMs: number;
  readonly webhookSecret: string;
  readonly webhookAllowPrivate: boolean;

  readonly textModel: string;
  readonly imageModel: string;

  /** OTLP/HTTP traces endpoint; empty: tracing off (src/observability). */
  readonly otelEndpoint: string;
  readonly otelServiceName: string;
  readonly otelSampleRatio: number;

  constructor(config: ConfigService) {
    const get = <T>(name: string): T => config.get<T>(name) as T;
    this.nodeEnv = get('NODE_ENV');
    this.role = get('APP_ROLE');
    this.port = get('PORT');
    this.host = get('HOST');
    this.logLevel = get('LOG_LEVEL');
    this.shutdownGraceMs = get('SHUTDOWN_GRACE_MS');
    this.shutdownDrainMs = get('SHUTDOWN_DRAIN_MS');
    this.bodyLimit = get('BODY_LIMIT');
    this.databaseUrl = get<string | undefined>('DATABASE_URL') || undefined;
    this.databasePoolSize = get('DATABASE_POOL_SIZE');
    this.dataDir = get('DATA_DIR');
    this.dbMigrate = get('DB_MIGRATE');
    this.redisUrl = get<string | undefined>('REDIS_URL') || undefined;
    this.redisPrefix = get('REDIS_PREFIX');
    this.adminApiKey = get<string | undefined>('ADMIN_API_KEY') || undefined;
    this.authCacheTtlMs = get('AUTH_CACHE_TTL_MS');
    this.selfServiceMaxKeys = get('SELF_SERVICE_MAX_KEYS');
    this.trustProxy = splitList(get('TRUST_PROXY'));
    this.corsOrigins = splitList(get('CORS_ORIGINS'));
    this.rateLimitFailOpen = get('RATE_LIMIT_FAIL_OPEN');
    this.databaseConnectTimeoutMs = get('DATABASE_CONNECT_TIMEOUT_MS');
    this.reservationTimeoutMs = get('RESERVATION_TIMEOUT_MS');
    this.billingSynchronousCommit = get('BILLING_SYNCHRONOUS_COMMIT');
    this.billingCreditLeases = get('BILLING_CREDIT_LEASES');
    this.billingLeaseIdleMs = get('BILLING_LEASE_IDLE_MS');
    this.billingSettleDelayMs = get('BILLING_SETTLE_DELAY_MS');
    this.reservationSweepIntervalMs = get('RESERVATION_SWEEP_INTERVAL_MS');
    this.hosts = get('HOSTS');
    this.hostCheckIntervalMs = get('HOST_CHECK_INTERVAL_MS');
    this.hostFailThreshold = get('HOST_FAIL_THRESHOLD');
    this.hostCooldownMs = get('HOST_COOLDOWN_MS');
    this.hostConnectTimeoutMs = get('HOST_CONNECT_TIMEOUT_MS');
    this.hostFirstByteTimeoutMs = get('HOST_FIRST_BYTE_TIMEOUT_MS');
    this.maxAttempts = get('MAX_ATTEMPTS');
    this.routingPolicy = get('ROUTING_POLICY');
    this.hostSlotScope = get('HOST_SLOT_SCOPE');
    this.hostSlotLeaseMs = get('HOST_SLOT_LEASE_MS');
    this.hostWaitQueue = get('HOST_WAIT_QUEUE');
    this.hostWaitMs = get('HOST_WAIT_MS');
    this.queueConcurrency = get('QUEUE_CONCURRENCY');
    this.queueAttempts = get('QUEUE_ATTEMPTS');
    this.taskRetentionHours = get('TASK_RETENTION_HOURS');
    this.queueLockDurationMs = get('QUEUE_LOCK_DURATION_MS');
    this.queueStalledIntervalMs = get('QUEUE_STALLED_INTERVAL_MS');
    this.queueBackoffMs = get('QUEUE_BACKOFF_MS');
    this.queueMaintenanceIntervalMs = get('QUEUE_MAINTENANCE_INTERVAL_MS');
    this.webhookSecret = get('WEBHOOK_SECRET');
    this.webhookAllowPrivate = get('WEBHOOK_ALLOW_PRIVATE');
    this.textModel = get('TEXT_MODEL');
    this.imageModel = get('IMAGE_MODEL');
    this.otelEndpoint = get('OTEL_EXPORTER_OTLP_ENDPOINT');
    this.otelServiceName = get('OTEL_SERVICE_NAME');
    this.otelSampleRatio = get('OTEL_TRACES_SAMPLER_ARG');
  }

  get embeddedDatabase(): boolean {
    return !this.databaseUrl;
  }

  get embeddedRedis(): boolean {
    return !this.redisUrl;
  }

  /** True when this process serves the HTTP APIs (not only the queue worker). */
  get servesApi(): boolean {
    return this.role !== 'worker';
  }

  /** True when this process consumes the queue. */
  get runsWorker(): boolean {
    return this.role !== 'api';
  }
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
