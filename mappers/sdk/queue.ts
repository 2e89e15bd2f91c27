// One serial queue per device connection: one request on the wire at a time, writes ahead of
// polls (a user's desired value should not wait behind a backlog of reads), and a deadline per
// job through an AbortSignal so a silent device can never wedge the queue.

import { edgetwinError } from '../../errors.js';

export type Lane = 'write' | 'read';

interface Job<T> {
  readonly run: (signal: AbortSignal) => Promise<T>;
  readonly timeoutMs: number;
  readonly resolve: (v: T) => void;
  readonly reject: (e: unknown) => void;
}

export class SerialQueue {
  private readonly lanes: Record<Lane, Array<Job<unknown>>> = { write: [], read: [] };
  private running?: AbortController;
  private closed = false;

  /** Queues a job; it gets an AbortSignal that fires at its deadline or on close(). */
  push<T>(lane: Lane, timeoutMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', 'the device queue is closed'));
    return new Promise<T>((resolve, reject) => {
      this.lanes[lane].push({ run, timeoutMs, resolve, reject } as Job<unknown>);
      this.pump();
    });
  }

  /** Jobs waiting (not counting the one running). */
  get pending(): number {
    return this.lanes.write.length + this.lanes.read.length;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Aborts the running job and rejects every queued one. */
  close(): void {
    this.closed = true;
    this.running?.abort(edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', 'the device queue was closed'));
    for (const lane of Object.values(this.lanes)) {
      for (const job of lane.splice(0)) job.reject(edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', 'the device queue was closed'));
    }
  }

  private pump(): void {
    if (this.running || this.closed) return;
    const job = this.lanes.write.shift() ?? this.lanes.read.shift();
    if (!job) return;
    const controller = new AbortController();
    this.running = controller;
    const timer = setTimeout(
      () => controller.abort(edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `the device did not answer within ${job.timeoutMs} ms`)),
      job.timeoutMs,
    );
    // A driver that ignores its signal still cannot hold the queue past the deadline.
    const deadline = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
    });
    Promise.race([job.run(controller.signal), deadline])
      .then(job.resolve, job.reject)
      .finally(() => {
        clearTimeout(timer);
        this.running = undefined;
        this.pump();
      });
  }
}
