export const USAGE_GROUPS = ['user', 'key', 'model', 'host'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];
export const USAGE_GRANULARITIES = ['hour', 'day'] as const;
export type UsageGranularity = (typeof USAGE_GRANULARITIES)[number];

export interface UsageQuery {
  from: Date;
  to: Date;
  groupBy: UsageGroup;
  granularity: UsageGranularity;
  userId?: string;
  keyId?: string;
  model?: string;
  hostId?: string;
}

/** Sums of one group (in one bucket, or over the whole period). */
export interface UsageSums {
  group: string | null;
  label: string | null;
  requests: number;
  errors: number;
  aborted: number;
  inputTokens: number;
  outputTokens: number;
  /** Exact: a bigint sum. */
  credits: bigint;
  durationMs: number;
}

export interface UsagePoint extends UsageSums {
  bucket: Date;
}

export interface UsageReport {
  query: UsageQuery;
  series: UsagePoint[];
  totals: UsageSums[];
}

/** One request as usage_records holds it. */
export interface RequestRecord {
  id: string;
  requestId: string;
  keyId: string | null;
  model: string;
  hostName: string | null;
  surface: string;
  operation: string;
  inputTokens: number;
  outputTokens: number;
  credits: bigint;
  durationMs: number;
  ttftMs: number | null;
  status: string;
  error: string | null;
  createdAt: Date;
}
