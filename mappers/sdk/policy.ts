// Pure pieces of the runtime's policy: cycles, backoff with jitter, change filtering, and the
// comparison of a read-back value with the desired one.

import type { KubeType } from '../../schemas/index.js';

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

/**
 * Whether a read-back value equals the desired one. Floats go through the device's own
 * representation (e.g. float32 registers: 21.1 reads back as 21.100000381…), so they compare
 * with a relative tolerance; everything else compares canonical wire strings.
 */
export function sameReading(type: KubeType, desired: string, actual: string): boolean {
  if (desired === actual) return true;
  if (type === 'float' || type === 'double') {
    const a = Number(desired);
    const b = Number(actual);
    return Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return false;
}
