// History, the twin's side: which entries a committed change adds (pure), and which settings
// apply to a device. The store keeps and trims them (devicetwin/store/history-*.ts); telemetry/
// builds the policy from the config and serves queries. docs/telemetry.md describes it all.

import { edgetwinError } from '../errors.js';
import type { DeviceEntry } from './context.js';

export type { HistoryResult } from '../wire/index.js';
import type { HistoryResult } from '../wire/index.js';
import type { DeviceTwinState, HistoryEntry, HistoryKind, HistoryOverride, HistoryPolicy, TwinState, TwinStore, TwinValue } from './types.js';

export const HISTORY_KINDS: readonly HistoryKind[] = ['reported', 'desired', 'ack'];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The defaults of the config's `history` section (schemas/config.ts spells the same values). */
export const DEFAULT_HISTORY_POLICY: HistoryPolicy = {
  enabled: true,
  maxAgeMs: 7 * DAY,
  maxBytes: 256 * 1024 * 1024,
  minuteBucketsAfterMs: DAY,
  hourBucketsAfterMs: 7 * DAY,
  maxPoints: 100_000,
  devices: new Map(),
  models: new Map(),
};

/** What applies to one device: its own override, then its model's, then the policy's. */
export function historyFor(policy: HistoryPolicy, id: string, model: string | undefined): Required<HistoryOverride> {
  const device = policy.devices.get(id);
  const byModel = model === undefined ? undefined : policy.models.get(model);
  return {
    enabled: device?.enabled ?? byModel?.enabled ?? policy.enabled,
    maxAgeMs: device?.maxAgeMs ?? byModel?.maxAgeMs ?? policy.maxAgeMs,
    maxBytes: device?.maxBytes ?? byModel?.maxBytes ?? policy.maxBytes,
  };
}

/** Whether any device could have history under this policy (so nothing is computed when none can). */
export function historyPossible(policy: HistoryPolicy): boolean {
  if (policy.enabled) return true;
  for (const o of [...policy.devices.values(), ...policy.models.values()]) if (o.enabled === true) return true;
  return false;
}

const NUMERIC: ReadonlySet<TwinState['type']> = new Set(['int', 'float', 'double']);

function changedValue(a: TwinValue | undefined, b: TwinValue | undefined): b is TwinValue {
  return b !== undefined && b !== a && (a === undefined || a.value !== b.value || a.timestamp !== b.timestamp);
}

function stored(type: TwinState['type'], wire: string): number | string {
  if (!NUMERIC.has(type)) return wire;
  // The merge stored a canonical wire string the model parsed as a number; history keeps the
  // number itself (a REAL column: 8 bytes, aggregable). An int beyond 2^53 is kept approximately.
  const n = Number(wire);
  return Number.isFinite(n) ? n : wire;
}

/**
 * The history entries of a committed change from `prev` to `next` over `changed`: each new
 * reported value, each new desired value, each ack transition. A soft delete adds none (the
 * values before it stay in the history).
 */
export function historyEntries(prev: DeviceTwinState, next: DeviceTwinState, changed: readonly string[]): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const property of changed) {
    const after = Object.hasOwn(next.twins, property) ? next.twins[property] : undefined;
    if (after === undefined || after.type === 'deleted') continue;
    const before = Object.hasOwn(prev.twins, property) ? prev.twins[property] : undefined;
    const live = before !== undefined && before.type !== 'deleted' ? before : undefined;
    if (changedValue(live?.actual, after.actual)) {
      out.push({ property, kind: 'reported', timestamp: after.actual.timestamp, value: stored(after.type, after.actual.value) });
    }
    if (changedValue(live?.expected, after.expected)) {
      out.push({ property, kind: 'desired', timestamp: after.expected.timestamp, value: stored(after.type, after.expected.value) });
    }
    const ack = after.ack;
    const was = live?.ack;
    if (ack !== undefined && ack !== was && (was === undefined || was.state !== ack.state || was.code !== ack.code || was.timestamp !== ack.timestamp)) {
      out.push({ property, kind: 'ack', timestamp: ack.timestamp, value: ack.code === undefined ? ack.state : `${ack.state}:${ack.code}` });
    }
  }
  return out;
}

/** A history query as the twin's API takes it: absolute times, everything else optional. */
export interface HistoryRequest {
  /** Default: every property of the device's model. */
  readonly properties?: readonly string[];
  /** Default: all three. */
  readonly kinds?: readonly HistoryKind[];
  /** Inclusive, ms since the epoch. */
  readonly since: number;
  /** Exclusive, ms since the epoch. */
  readonly until: number;
  /** Aggregate into buckets of this many ms; absent: the points as stored. */
  readonly stepMs?: number;
}


/**
 * Checks a request against the device's model and the policy, and runs it on the store. Throws
 * EDGETWIN_ERR_HISTORY_DISABLED, EDGETWIN_ERR_PROPERTY_UNKNOWN, EDGETWIN_ERR_HISTORY_QUERY, or
 * the store's EDGETWIN_ERR_HISTORY_TOO_MANY_POINTS.
 */
export async function queryHistory(store: TwinStore, policy: HistoryPolicy | undefined, entry: DeviceEntry, request: HistoryRequest): Promise<HistoryResult> {
  const { id } = entry.instance;
  if (policy === undefined || !historyFor(policy, id, entry.model.name).enabled) {
    throw edgetwinError('EDGETWIN_ERR_HISTORY_DISABLED', `no history is recorded for ${id}: history.enabled is false or an entry of history.devices or history.models turns it off`);
  }
  const { since, until, stepMs } = request;
  if (!Number.isSafeInteger(since) || !Number.isSafeInteger(until) || since >= until) {
    throw edgetwinError('EDGETWIN_ERR_HISTORY_QUERY', `the range must be integer ms since the epoch with since before until (got since ${since}, until ${until})`);
  }
  if (stepMs !== undefined && (!Number.isSafeInteger(stepMs) || stepMs < 1)) {
    throw edgetwinError('EDGETWIN_ERR_HISTORY_QUERY', `the step must be a positive integer number of ms (got ${stepMs})`);
  }
  const properties = request.properties ?? [...entry.model.properties.keys()];
  const unknown = properties.filter((p) => !entry.model.properties.has(p));
  if (unknown.length > 0) {
    throw edgetwinError(
      'EDGETWIN_ERR_PROPERTY_UNKNOWN',
      `model ${entry.model.name} of ${id} has no propert${unknown.length === 1 ? 'y' : 'ies'} ${unknown.join(', ')} (it has ${[...entry.model.properties.keys()].join(', ')})`,
      unknown.map((path) => ({ path, code: 'EDGETWIN_ERR_PROPERTY_UNKNOWN', message: 'not a property of the model' })),
    );
  }
  const kinds = request.kinds ?? HISTORY_KINDS;
  const series = properties.flatMap((property) => kinds.map((kind) => ({ property, kind })));
  const found = await store.queryHistory({ device: id, series, since, until, ...(stepMs !== undefined ? { stepMs } : {}), maxPoints: policy.maxPoints });
  return {
    device: id,
    since,
    until,
    step: stepMs ?? null,
    // An ack series holds states (`applied`, `rejected:CODE`): text, whatever the property's type.
    series: found.filter((s) => s.t.length > 0).map((s) => ({ ...s, type: s.kind === 'ack' ? 'string' : (entry.model.properties.get(s.property)?.type ?? 'string') })),
  };
}
