import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../../errors.js';
import { SerialQueue } from './queue.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SerialQueue', () => {
  it('runs one job at a time, writes ahead of queued reads', async () => {
    const q = new SerialQueue();
    const order: string[] = [];
    let release!: () => void;
    const first = q.push('read', 1000, () => new Promise<void>((r) => (release = r)).then(() => void order.push('read-1')));
    const reads = [q.push('read', 1000, async () => void order.push('read-2')), q.push('read', 1000, async () => void order.push('read-3'))];
    const write = q.push('write', 1000, async () => void order.push('write'));
    await tick();
    expect(q.busy).toBe(true);
    expect(q.pending).toBe(3);
    release();
    await Promise.all([first, write, ...reads]);
    expect(order).toEqual(['read-1', 'write', 'read-2', 'read-3']);
  });

  it('aborts a job at its deadline with EDGETWIN_ERR_MAPPER_TIMEOUT even if the job ignores its signal', async () => {
    const q = new SerialQueue();
    const hung = q.push('read', 30, () => new Promise<never>(() => undefined));
    await expect(hung).rejects.toSatisfy((e: unknown) => isEdgetwinError(e, 'EDGETWIN_ERR_MAPPER_TIMEOUT'));
    await expect(q.push('read', 100, async () => 'next')).resolves.toBe('next');
  });

  it('passes an AbortSignal that fires at the deadline', async () => {
    const q = new SerialQueue();
    let aborted = false;
    await q
      .push('write', 20, (signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(signal.reason as Error)))))
      .catch(() => undefined);
    expect(aborted).toBe(true);
  });

  it('close() aborts the running job and rejects the queued ones', async () => {
    const q = new SerialQueue();
    const running = q.push('read', 10_000, (signal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))));
    const queued = q.push('read', 10_000, async () => undefined);
    q.close();
    for (const p of [running, queued]) await expect(p).rejects.toSatisfy((e: unknown) => isEdgetwinError(e, 'EDGETWIN_ERR_MAPPER_ABORTED'));
    await expect(q.push('read', 10, async () => undefined)).rejects.toSatisfy((e: unknown) => isEdgetwinError(e, 'EDGETWIN_ERR_MAPPER_ABORTED'));
  });
});
