// Pure pieces of the runtime's policy: cycles, backoff with jitter, change filtering, and the
// comparison of a read-back value with the desired one.

/** KubeEdge's meaning: collectCycle/reportCycle in milliseconds; 0 or absent means 1 s. */
export function cycleMs(value: number | undefined): number {
  return value === undefined || value <= 0 ? 1000 : value;
}

export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  /** 0..1: the delay is drawn from [d·(1−jitter), d]. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, jitter: 0.5 };

/** Exponential backoff with jitter for the n-th consecutive failure (n ≥ 1). */
export function backoffMs(failures: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(exp * (1 - opts.jitter * random()));
}

export interface LastReport {
  readonly wire: string;
  readonly at: number;
}

/**
 * Whether a new reading should be reported: the first one, any change beyond the deadband
 * (numbers) or any change at all (others), and in any case once every reportCycle so the twin
 * shows the device is alive.
 */
export function shouldReport(last: LastReport | undefined, wire: string, now: number, reportCycle: number, deadband = 0): boolean {
  if (!last) return true;
  if (now - last.at >= reportCycle) return true;
  if (last.wire === wire) return false;
  if (deadband > 0) {
    const a = Number(last.wire);
    const b = Number(wire);
    if (Number.isFinite(a) && Number.isFinite(b)) return Math.abs(a - b) > deadband;
  }
  return true;
}

// Shared with the DMI edge, which judges a KubeEdge mapper's report the same way (dmi/reports.ts).
export { sameReading } from '../../schemas/index.js';
