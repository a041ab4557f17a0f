import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { DiscoveredModel, ProviderKind } from '../providers/provider.types';
import type { HostLabels, HostState, HostStatus } from './host.types';

interface HostRow extends HostConfigRow {
  id: string;
  status: HostStatus;
  consecutive_failures: number;
  cooldown_until: Date | null;
  last_check_at: Date | null;
  last_error: string | null;
  discovered_models: DiscoveredModel[];
  created_at: Date;
  updated_at: Date;
}

/** Configuration columns, as stored. */
export interface HostConfigRow {
  name: string;
  base_url: string;
  provider: ProviderKind;
  api_key: string | null;
  enabled: boolean;
  draining: boolean;
  weight: number;
  max_concurrency: number;
  labels: HostLabels;
  models: string[];
}

const CONFIG_COLUMNS: (keyof HostConfigRow)[] = [
  'name',
  'base_url',
  'provider',
  'api_key',
  'enabled',
  'draining',
  'weight',
  'max_concurrency',
  'labels',
  'models',
];

/** The hosts table, in raw SQL (ARCHITECTURE: only HostsService touches it). */
@Injectable()
export class HostsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async loadAll(): Promise<HostState[]> {
    const rows = (await this.dataSource.query(`SELECT * FROM hosts ORDER BY created_at, id`)) as HostRow[];
    return rows.map(toState);
  }

  /**
   * Inserts a host; undefined when the name or base_url is taken. ON CONFLICT rather than a caught
   * unique violation: TypeORM logs failed queries with their parameters, and one is the api key.
   */
  async insert(config: HostConfigRow): Promise<HostState | undefined> {
    const values = CONFIG_COLUMNS.map((c) => toParam(c, config[c]));
    const rows = (await this.dataSource.query(
      `INSERT INTO hosts (${CONFIG_COLUMNS.join(', ')})
       VALUES (${CONFIG_COLUMNS.map((c, i) => (c === 'labels' ? `$${i + 1}::jsonb` : `$${i + 1}`)).join(', ')})
       ON CONFLICT DO NOTHING
       RETURNING *`,
      values,
    )) as HostRow[];
    return rows[0] ? toState(rows[0]) : undefined;
  }

  /** Another host already has this name or base_url (checked before an update, see insert). */
  async taken(exceptId: string, name: string | undefined, baseUrl: string | undefined): Promise<boolean> {
    if (name === undefined && baseUrl === undefined) return false;
    const rows = (await this.dataSource.query(
      `SELECT 1 FROM hosts WHERE id <> $1 AND (name = $2 OR base_url = $3) LIMIT 1`,
      [exceptId, name ?? null, baseUrl ?? null],
    )) as unknown[];
    return rows.length > 0;
  }

  /** Changes configuration columns; undefined when the host does not exist. */
  async update(id: string, patch: Partial<HostConfigRow>): Promise<HostState | undefined> {
    const columns = CONFIG_COLUMNS.filter((c) => patch[c] !== undefined);
    const sets = columns.map((c, i) => `${c} = $${i + 2}${c === 'labels' ? '::jsonb' : ''}`);
    const rows = (await this.dataSource.query(
      `UPDATE hosts SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING *`,
      [id, ...columns.map((c) => toParam(c, patch[c]))],
    )) as [HostRow[], number];
    const updated = rows[0]?.[0];
    return updated ? toState(updated) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const result = (await this.dataSource.query(`DELETE FROM hosts WHERE id = $1 RETURNING id`, [id])) as [
      unknown[],
      number,
    ];
    return result[1] > 0;
  }

  /** Stores the health a check saw, so reads elsewhere and new replicas start from it. */
  async saveHealth(host: HostState): Promise<void> {
    await this.dataSource.query(
      `UPDATE hosts SET status = $2, consecutive_failures = $3, cooldown_until = $4, last_check_at = $5,
         last_error = $6, discovered_models = $7::jsonb WHERE id = $1`,
      [
        host.id,
        host.status,
        host.consecutiveFailures,
        host.cooldownUntil === null ? null : new Date(host.cooldownUntil),
        host.lastCheckAt,
        host.lastError,
        JSON.stringify(host.discovered),
      ],
    );
  }
}

function toParam(column: keyof HostConfigRow, value: unknown): unknown {
  return column === 'labels' ? JSON.stringify(value ?? {}) : value;
}

function toState(row: HostRow): HostState {
  return {
    id: row.id,
    name: row.name,
    baseUrl: row.base_url,
    provider: row.provider,
    apiKey: row.api_key,
    enabled: row.enabled,
    draining: row.draining,
    weight: row.weight,
    maxConcurrency: row.max_concurrency,
    labels: row.labels,
    models: row.models,
    status: row.status,
    consecutiveFailures: row.consecutive_failures,
    cooldownUntil: row.cooldown_until ? row.cooldown_until.getTime() : null,
    lastCheckAt: row.last_check_at,
    lastError: row.last_error,
    discovered: row.discovered_models,
    inFlight: 0,
    lastPickedAt: 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
