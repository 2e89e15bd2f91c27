// A history query as a person or a client writes it — on the command line, in an HTTP query
// string, in an MQTT request — checked and turned into the twin's HistoryRequest. Every
// problem is EDGETWIN_ERR_HISTORY_QUERY naming the parameter and what it accepts.

import { edgetwinError, type EdgetwinError } from '../errors.js';
import { HISTORY_KINDS, type HistoryKind, type HistoryRequest } from '../devicetwin/index.js';
import { TWIN_KEY, formatDuration, parseDuration } from '../schemas/index.js';

/** The parameters as received: strings (HTTP, CLI), or JSON values (MQTT). Lists may be comma-separated. */
export interface HistoryParams {
  readonly properties?: unknown;
  readonly kinds?: unknown;
  /** ISO 8601, ms since the epoch, a duration ago (`1h`), or `now`. Default: 1h ago. */
  readonly since?: unknown;
  /** As `since`. Default: now. */
  readonly until?: unknown;
  /** A duration (`1m`) or ms; absent: the points as stored. */
  readonly step?: unknown;
}

/** The range a query covers when it names no `since`. */
export const DEFAULT_SINCE_MS = 3_600_000;

// Anchored, fixed-width parts: linear on any input (eslint-plugin-regexp guards it too).
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const EPOCH_RE = /^\d{1,16}$/;
const KEY_RE = new RegExp(TWIN_KEY);
/** More properties than any model may have (mqtt.limits.maxPropertiesPerDevice caps at the config's value). */
const MAX_LIST = 1024;

function invalid(message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_HISTORY_QUERY', message);
}

/** A list parameter: an array of strings, or one comma-separated string (or several, HTTP's `?property=a&property=b`). */
function list(name: string, value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  if (items === undefined || !items.every((v): v is string => typeof v === 'string')) throw invalid(`${name} must be a list of names (JSON strings, or comma-separated)`);
  const names = [...new Set(items.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0))];
  if (names.length > MAX_LIST) throw invalid(`${name} names ${names.length} items; at most ${MAX_LIST}`);
  return names.length > 0 ? names : undefined;
}

/** A time: absent → `fallback`; `now`; a duration ago; ms since the epoch; ISO 8601. */
export function parseTime(name: string, value: unknown, now: number, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw invalid(`${name} ${value} is not a time: ms since the epoch are a non-negative integer`);
  }
  if (typeof value !== 'string') throw invalid(`${name} must be a string or a number`);
  const text = value.trim();
  if (text === 'now') return now;
  if (EPOCH_RE.test(text)) return Number(text);
  const ago = parseDuration(text);
  if (ago !== undefined) return now - ago;
  if (ISO_RE.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw invalid(
    `${name} ${JSON.stringify(text.slice(0, 64))} is not a time: use ISO 8601 (2024-06-10T06:00:00Z), ms since the epoch, ` +
      'a duration ago (90s, 15m, 1h, 7d) or now',
  );
}

function parseStep(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const ms = typeof value === 'string' && EPOCH_RE.test(value.trim()) ? Number(value) : typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
  if (ms === undefined || ms < 1) {
    throw invalid(`step ${JSON.stringify(value)} is not a duration: use e.g. 500ms, 10s, 1m, 1h, 1d, or ms as a positive integer`);
  }
  return ms;
}

/**
 * Checks and resolves the parameters against the clock. Throws EDGETWIN_ERR_HISTORY_QUERY. The
 * device's own checks (its model's properties, history on for it, the point limit) follow in
 * DeviceTwin.history.
 */
export function parseHistoryParams(params: HistoryParams, now: number): HistoryRequest {
  const until = parseTime('until', params.until, now, now);
  const since = parseTime('since', params.since, now, until - DEFAULT_SINCE_MS);
  if (since >= until) {
    throw invalid(`since (${new Date(since).toISOString()}) must be before until (${new Date(until).toISOString()})`);
  }
  const stepMs = parseStep(params.step);
  const properties = list('property', params.properties);
  for (const p of properties ?? []) if (!KEY_RE.test(p)) throw invalid(`property ${JSON.stringify(p.slice(0, 140))} is not a property name (a KubeEdge twin key)`);
  const kinds = list('kind', params.kinds);
  for (const k of kinds ?? []) if (!(HISTORY_KINDS as readonly string[]).includes(k)) throw invalid(`kind ${JSON.stringify(k.slice(0, 64))} is not one of ${HISTORY_KINDS.join(', ')}`);
  return {
    since,
    until,
    ...(stepMs !== undefined ? { stepMs } : {}),
    ...(properties !== undefined ? { properties } : {}),
    ...(kinds !== undefined ? { kinds: kinds as HistoryKind[] } : {}),
  };
}

/** `1h`-style rendering of a step for messages and tables. */
export function describeStep(ms: number | null): string {
  return ms === null ? 'as stored' : formatDuration(ms);
}
