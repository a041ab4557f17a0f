import type { Request, Response } from 'express';

/** An AbortSignal that fires when the client goes away before the response has been sent. */
export function abortOnDisconnect(req: Request, res: Response): AbortController {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  req.once('aborted', () => controller.abort(new Error('client disconnected')));
  return controller;
}

/** Writes a piece of a streamed body, waiting when the socket's buffer is full (bounded memory). */
export async function write(res: Response, data: string, signal: AbortSignal): Promise<void> {
  if (res.write(data) || signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
