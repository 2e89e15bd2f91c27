// Deadlines, cancellation and backoff for noble's promises. noble's async calls settle only when
// the binding answers: a read on a dropped link, a connect to a device that stopped advertising,
// or a discovery that finds nothing never settle at all. Every call the mapper makes goes through
// guard(), which always settles and always releases its timer and listeners.

import { edgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';

export interface GuardOptions {
  /** No deadline when absent (the caller's signal is the only way out). */
  readonly timeoutMs?: number;
  /** Any of these aborting abandons the call. An EdgetwinError reason is passed on as is. */
  readonly signals: readonly (AbortSignal | undefined)[];
  /** For messages: 'read 2a6e on default/sensor'. */
  readonly what: string;
  /** Called when the deadline passes (e.g. cancelConnect, or drop a link whose ATT bearer is now unusable). */
  readonly onTimeout?: () => void;
  /** Called when a signal aborts the call. */
  readonly onAbort?: () => void;
  /** Turns a rejection of the call itself into a coded error. */
  readonly mapError: (err: unknown) => EdgetwinError;
}

function isCoded(value: unknown): value is EdgetwinError {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'string' && 'status' in value;
}

/** The error a signal's abort stands for: its own reason if coded, else EDGETWIN_ERR_MAPPER_ABORTED. */
export function abortReason(signal: AbortSignal, what: string): EdgetwinError {
  const reason: unknown = signal.reason;
  return isCoded(reason) ? reason : edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${what}: cancelled by the caller`, [], reason);
}

export function guard<T>(op: Promise<T>, options: GuardOptions): Promise<T> {
  // The call may still settle after we stop waiting for it; that must not be an unhandled rejection.
  op.catch(() => undefined);
  const signals = options.signals.filter((s): s is AbortSignal => s !== undefined);
  const aborted = signals.find((s) => s.aborted);
  if (aborted) {
    options.onAbort?.();
    return Promise.reject(abortReason(aborted, options.what));
  }
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (event: Event): void => {
      if (!finish()) return;
      options.onAbort?.();
      reject(abortReason(event.target as AbortSignal, options.what));
    };
    const { timeoutMs } = options;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (!finish()) return;
            options.onTimeout?.();
            reject(edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `${options.what}: no answer within ${timeoutMs} ms`));
          }, timeoutMs);
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    op.then(
      (value) => {
        if (finish()) resolve(value);
      },
      (err: unknown) => {
        if (finish()) reject(options.mapError(err));
      },
    );
  });
}

/** Rejects with the signal's reason when it aborts first; never touches `op` otherwise. */
export function raceSignal<T>(op: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  return signal === undefined ? op : guard(op, { signals: [signal], what, mapError: (e) => toEdgetwinError(e, 'EDGETWIN_ERR_MAPPER_CONNECTION') });
}

export interface BackoffOptions {
  /** First delay after a failed connection attempt (default 500 ms). */
  readonly initialMs?: number;
  /** Cap (default 30 s). */
  readonly maxMs?: number;
  /** ± this fraction of each delay, so several devices do not retry in step (default 0.2). */
  readonly jitter?: number;
}

/** Exponential backoff (×2) with jitter; `random` is injectable so tests are deterministic. */
export class Backoff {
  readonly initialMs: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.initialMs = options.initialMs ?? 500;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#jitter = options.jitter ?? 0.2;
    this.#random = random;
  }

  /** The delay before the next attempt, after one more failure. */
  next(): number {
    const base = Math.min(this.#maxMs, this.initialMs * 2 ** this.#failures);
    this.#failures++;
    return this.jittered(base);
  }

  jittered(ms: number): number {
    return Math.max(0, Math.round(ms * (1 - this.#jitter + 2 * this.#jitter * this.#random())));
  }

  reset(): void {
    this.#failures = 0;
  }
}
