/** The API's shapes as the console reads them (credits as exact strings, see api.ts). */

export type Role = 'user' | 'admin';

export interface ApiKey {
  id: string;
  user_id: string;
  prefix: string;
  name: string | null;
  ip_whitelist: string[];
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface CreatedKey extends ApiKey {
  key: string;
}

export interface Me {
  user_id: string;
  name: string;
  role: Role;
  credits: string;
  key: ApiKey;
  max_keys: number;
}

export interface User {
  id: string;
  name: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  credits: string;
  created_at: string;
}

export interface LedgerEntry {
  id: string;
  amount: string;
  kind: string;
  request_id: string | null;
  reference: string | null;
  balance_after: string;
  created_at: string;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Rate {
  model: string;
  input_rate: string;
  output_rate: string;
  updated_at: string;
}

export interface Host {
  id: string;
  name: string;
  base_url: string;
  provider: 'ollama' | 'openai';
  enabled: boolean;
  draining: boolean;
  weight: number;
  max_concurrency: number;
  models: string[];
  status: 'healthy' | 'unhealthy' | 'cooldown' | 'unknown';
  consecutive_failures: number;
  last_check: string | null;
  last_error: string | null;
  discovered_models: { name: string; warm: boolean }[];
  in_flight: number;
}

export interface UsageSums {
  group: string | null;
  label: string | null;
  requests: number;
  errors: number;
  aborted: number;
  input_tokens: number;
  output_tokens: number;
  credits: string;
  duration_ms: number;
}

export interface UsagePoint extends UsageSums {
  bucket: string;
}

export interface UsageReport {
  from: string;
  to: string;
  group_by: 'user' | 'key' | 'model' | 'host';
  granularity: 'hour' | 'day';
  series: UsagePoint[];
  totals: UsageSums[];
}

export interface RequestRecord {
  id: string;
  request_id: string;
  key_id: string | null;
  model: string;
  host_name: string | null;
  surface: string;
  operation: string;
  input_tokens: number;
  output_tokens: number;
  credits: string;
  duration_ms: number;
  ttft_ms: number | null;
  status: string;
  error: string | null;
  created_at: string;
}

export interface QueueStatus {
  queues: {
    name: string;
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    completed: number;
    paused: number;
  }[];
  recent_failures: {
    id: string;
    user_id: string;
    model: string;
    error: string | null;
    attempts: number;
    finished_at: string | null;
  }[];
}
