// Awaiting things in tests without fixed sleeps: a timeout on a promise, a deferred, a poll for
// state that changes without an event, an emitter's close.

/** Rejects if `promise` has not settled within `ms`: tests await events, never sleep. */
export function within<T>(promise: Promise<T>, ms = 5_000, what = 'event'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Polls `probe` until it returns a value (or throws on timeout): for state that changes without an event to await. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function closeOf(emitter: { once(event: 'close', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

/** What nextEvent needs of an emitter: eventemitter3's (the simulators') and Node's alike. */
interface OnceEmitter {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * The arguments of `emitter`'s next `event` — node:events `once()` for the simulators'
 * eventemitter3 emitters; rejects when `signal` aborts.
 */
export function nextEvent<A extends unknown[] = unknown[]>(emitter: OnceEmitter, event: string, opts: { readonly signal?: AbortSignal } = {}): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const { signal } = opts;
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      emitter.off(event, listener);
      reject(signal!.reason as Error);
    };
    const listener = (...args: unknown[]): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve(args as unknown as A);
    };
    emitter.once(event, listener);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
