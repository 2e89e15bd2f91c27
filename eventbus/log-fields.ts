// What an MQTT client controls in a log line, kept small and rare. A client id, a user name
// and a topic can each be 65,535 bytes [MQTT-1.5.3], and a client can provoke a refusal many
// times a second (a SUBSCRIBE naming thousands of denied filters, a reconnect loop): logged
// as sent, one client could write megabytes of log per second. So every field a client
// chose is cut to a prefix plus a hash (still greppable, still telling two long ids apart),
// and the lines a client provokes pass a per-client and a global budget.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';

/** Characters of a client-chosen string kept in a log line. */
export const LOG_FIELD_CHARS = 64;

/** `s` itself when short, else its first LOG_FIELD_CHARS characters, `…`, and 8 hex digits of its SHA-256. */
export function logSafe(s: string): string;
export function logSafe(s: string | undefined): string | undefined;
export function logSafe(s: string | undefined): string | undefined {
  if (s === undefined || s.length <= LOG_FIELD_CHARS) return s;
  const hash = createHash('sha256').update(s).digest('hex').slice(0, 8);
  return `${s.slice(0, LOG_FIELD_CHARS)}…#${hash}(${s.length} chars)`;
}

const cut = (value: unknown): unknown => (typeof value === 'string' ? logSafe(value) : value);

/**
 * A child of `logger` that cuts the client-chosen fields of every line (pino serializers run
 * on top-level keys, so each caller keeps writing `{ clientId, username, topic, filter }`).
 */
export function clientSafeLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: { clientId: cut, username: cut, topic: cut, filter: cut } });
}

interface Budget {
  tokens: number;
  at: number;
  suppressed: number;
}

export interface LogGateOptions {
  /** Lines one client may provoke in a burst, then per second. */
  readonly perClientBurst?: number;
  readonly perClientPerSecond?: number;
  /** The same for all clients together. */
  readonly totalBurst?: number;
  readonly totalPerSecond?: number;
  /** Clients whose budgets are remembered; the oldest is forgotten beyond it. */
  readonly maxClients?: number;
  readonly now?: () => number;
}

/**
 * Token buckets for the log lines clients provoke: per client (by id, or address before
 * CONNECT) and in total. A suppressed line is counted, and the client's next line that passes
 * carries `suppressed: n`, so nothing is hidden without a trace and no timer is needed.
 */
export class LogGate {
  /** Lines suppressed so far (a metric). */
  suppressed = 0;
  private readonly opts: Required<Omit<LogGateOptions, 'now'>>;
  private readonly now: () => number;
  private readonly clients = new Map<string, Budget>();
  private readonly total: Budget;

  constructor(options: LogGateOptions = {}) {
    this.opts = {
      perClientBurst: options.perClientBurst ?? 20,
      perClientPerSecond: options.perClientPerSecond ?? 1,
      totalBurst: options.totalBurst ?? 200,
      totalPerSecond: options.totalPerSecond ?? 50,
      maxClients: options.maxClients ?? 10_000,
    };
    this.now = options.now ?? Date.now;
    this.total = { tokens: this.opts.totalBurst, at: this.now(), suppressed: 0 };
  }

  /**
   * Whether a line provoked by `key` may be written now: undefined to drop it, or the fields
   * to add to it (`{ suppressed }` after a run of dropped lines, else `{}`).
   */
  admit(key: string): { suppressed?: number } | undefined {
    const now = this.now();
    let budget = this.clients.get(key);
    if (budget === undefined) {
      if (this.clients.size >= this.opts.maxClients) {
        const oldest = this.clients.keys().next();
        if (!oldest.done) this.clients.delete(oldest.value);
      }
      budget = { tokens: this.opts.perClientBurst, at: now, suppressed: 0 };
      this.clients.set(key, budget);
    }
    refill(budget, now, this.opts.perClientBurst, this.opts.perClientPerSecond);
    refill(this.total, now, this.opts.totalBurst, this.opts.totalPerSecond);
    if (budget.tokens < 1 || this.total.tokens < 1) {
      budget.suppressed++;
      this.suppressed++;
      return undefined;
    }
    budget.tokens--;
    this.total.tokens--;
    const fields = budget.suppressed > 0 ? { suppressed: budget.suppressed } : {};
    budget.suppressed = 0;
    return fields;
  }

  /** Writes `msg` at `level` with `fields` if `key`'s budget allows. */
  log(logger: Logger, level: 'debug' | 'info' | 'warn' | 'error', key: string, fields: Record<string, unknown>, msg: string): void {
    const extra = this.admit(key);
    if (extra !== undefined) logger[level]({ ...fields, ...extra }, msg);
  }
}

function refill(budget: Budget, now: number, burst: number, perSecond: number): void {
  budget.tokens = Math.min(burst, budget.tokens + ((now - budget.at) * perSecond) / 1000);
  budget.at = now;
}
