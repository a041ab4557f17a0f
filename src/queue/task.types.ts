import type { CompletionRequest } from '../completions/completion.types';

export type TaskStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';

export const FINISHED_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export interface TaskUsage {
  input_tokens: number;
  output_tokens: number;
}

/** A row of the `tasks` table as the store returns it (bigints as bigint, times as Date). */
export interface Task {
  id: string;
  userId: string;
  keyId: string | null;
  model: string;
  request: CompletionRequest;
  status: TaskStatus;
  result: string | null;
  error: string | null;
  usage: TaskUsage | null;
  creditsReserved: bigint;
  credits: bigint | null;
  reservationOpen: boolean;
  /** Times processing started; also the fencing token of the worker that claimed it last. */
  attempts: number;
  hostName: string | null;
  webhookUrl: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** What a Bull job carries: only the id; the row holds everything else. */
export interface TaskJobData {
  taskId: string;
}

/** A webhook delivery: the exact bytes are fixed at enqueue so every retry signs the same body. */
export interface WebhookJobData {
  taskId: string;
  url: string;
  body: string;
}
