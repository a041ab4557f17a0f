import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import type { ChatMessage } from '../completion.types';

/** Stored output items as the internal message each stands for. */
export interface StoredItem {
  id: string;
  message: ChatMessage;
}

export interface StoredResponse {
  id: string;
  userId: string;
  model: string;
  body: object;
  /** The conversation this response ends: its input (with any earlier response's) and its output. */
  conversation: ChatMessage[];
  items: StoredItem[];
}

const SWEEP_INTERVAL_MS = 3_600_000;

/**
 * Responses kept for previous_response_id, item_reference and GET /v1/responses/:id: a user's
 * own only, deleted TASK_RETENTION_HOURS after they were made (an hourly sweep, and at start).
 */
@Injectable()
export class ResponsesStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ResponsesStore.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.servesApi) return;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async save(response: StoredResponse): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO responses (id, user_id, model, body, conversation) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)`,
        [
          response.id,
          response.userId,
          response.model,
          JSON.stringify(response.body),
          JSON.stringify(response.conversation),
        ],
      );
      if (response.items.length === 0) return;
      await tx.query(
        `INSERT INTO response_items (id, response_id, user_id, message)
         SELECT i.id, $1, $2, i.message FROM jsonb_to_recordset($3::jsonb) AS i(id text, message jsonb)`,
        [response.id, response.userId, JSON.stringify(response.items)],
      );
    });
  }

  /** The response as answered, if it is this user's and still kept. */
  async body(userId: string, id: string): Promise<object | undefined> {
    const rows = (await this.db.query(
      `SELECT body FROM responses WHERE id = $1 AND user_id = $2 AND ${this.kept()}`,
      [id, userId, this.config.taskRetentionHours],
    )) as { body: object }[];
    return rows[0]?.body;
  }

  async conversation(userId: string, id: string): Promise<ChatMessage[] | undefined> {
    const rows = (await this.db.query(
      `SELECT conversation FROM responses WHERE id = $1 AND user_id = $2 AND ${this.kept()}`,
      [id, userId, this.config.taskRetentionHours],
    )) as { conversation: ChatMessage[] }[];
    return rows[0]?.conversation;
  }

  /** The stored items among `ids` that are this user's, by id. */
  async items(userId: string, ids: string[]): Promise<Map<string, ChatMessage>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.db.query(
      `SELECT i.id, i.message FROM response_items i JOIN responses r ON r.id = i.response_id
        WHERE i.id = ANY($1) AND i.user_id = $2 AND ${this.kept('r.')}`,
      [ids, userId, this.config.taskRetentionHours],
    )) as { id: string; message: ChatMessage }[];
    return new Map(rows.map((r) => [r.id, r.message]));
  }

  async delete(userId: string, id: string): Promise<boolean> {
    // A CTE, so the driver answers rows (a bare DELETE … RETURNING answers [rows, count]).
    const rows = (await this.db.query(
      `WITH d AS (DELETE FROM responses WHERE id = $1 AND user_id = $2 RETURNING id) SELECT id FROM d`,
      [id, userId],
    )) as unknown[];
    return rows.length > 0;
  }

  private kept(alias = ''): string {
    return `${alias}created_at >= now() - $3::float8 * interval '1 hour'`;
  }

  private async sweep(): Promise<void> {
    try {
      await this.db.query(`DELETE FROM responses WHERE created_at < now() - $1::float8 * interval '1 hour'`, [
        this.config.taskRetentionHours,
      ]);
    } catch (error) {
      this.logger.warn(`responses sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
