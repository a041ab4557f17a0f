import type { Task, TaskStatus, TaskUsage } from './task.types';

/** The body of GET /api/v1/qcompletions/:id and of a webhook (seed 000 plus extra fields). */
export interface TaskStatusBody {
  success: true;
  task_id: string;
  status: TaskStatus;
  result?: string;
  error?: string;
  usage?: TaskUsage;
  credits?: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export function toStatusBody(task: Task): TaskStatusBody {
  return {
    success: true,
    task_id: task.id,
    status: task.status,
    ...(task.status === 'completed' && task.result !== null ? { result: task.result } : {}),
    ...(task.error !== null ? { error: task.error } : {}),
    ...(task.usage ? { usage: task.usage } : {}),
    // Credits fit a JSON number: balances are far below 2^53.
    ...(task.credits !== null ? { credits: Number(task.credits) } : {}),
    created_at: task.createdAt.toISOString(),
    started_at: task.startedAt?.toISOString() ?? null,
    finished_at: task.finishedAt?.toISOString() ?? null,
  };
}
