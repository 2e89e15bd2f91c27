// Pure status logic: twin state → the values to report, the "never older" rule, and the
// merge-patch bodies for both layouts (kubeedge-notes §3–§4: cloudcore writes
// `status.twins[]{propertyName, reported{value,metadata}, observedDesired{value,metadata}}`,
// metadata `{timestamp: "<ms>", type}`, plus `state` and `lastOnlineTime`).

import type { DeviceTwinState, TwinState } from '../devicetwin/index.js';
import type { StatusRow } from './outbox.js';

/** One reported or observedDesired value as cloud sync keeps it. */
export interface StatusValue {
  readonly value: string;
  /** ms since the epoch: when the edge stored the value. */
  readonly timestamp: number;
  readonly type: string;
  /** The closed loop's verdict on a desired value (observedDesired only). */
  readonly ack?: string;
}

/** The CRD's `Twin` item. */
export interface CrdTwin {
  propertyName: string;
  reported?: { value: string; metadata?: Record<string, string> };
  observedDesired?: { value: string; metadata?: Record<string, string> };
}

export type StatusLayout = 'devicestatus' | 'device';

function sameValue(a: StatusValue | undefined, b: StatusValue | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.value === b.value && a.timestamp === b.timestamp && a.type === b.type && a.ack === b.ack);
}

/** The reported/observedDesired a twin now holds (soft-deleted twins report nothing). */
export function valuesOf(twin: TwinState | undefined): { reported?: StatusValue; observed?: StatusValue } {
  if (!twin || twin.type === 'deleted') return {};
  const type = twin.type;
  return {
    ...(twin.actual ? { reported: { value: twin.actual.value, timestamp: twin.actual.timestamp, type } } : {}),
    ...(twin.expected
      ? { observed: { value: twin.expected.value, timestamp: twin.expected.timestamp, type, ...(twin.ack ? { ack: twin.ack.state } : {}) } }
      : {}),
  };
}

/**
 * Merges a twin's current values into the stored row. Returns undefined when nothing changed.
 * Reported values only move forward in time: a value older than the one held never replaces it
 * (out-of-order reports, a restart replaying state; KubeEdge #5018).
 */
export function advanceRow(prev: StatusRow | undefined, twin: TwinState | undefined, seq: number): StatusRow | undefined {
  const { reported, observed } = valuesOf(twin);
  const nextReported = reported && (!prev?.reported || reported.timestamp >= prev.reported.timestamp) ? reported : prev?.reported;
  const nextObserved = observed && (!prev?.observed || observed.timestamp >= prev.observed.timestamp) ? observed : prev?.observed;
  if (prev && sameValue(prev.reported, nextReported) && sameValue(prev.observed, nextObserved)) return undefined;
  if (!prev && !nextReported && !nextObserved) return undefined;
  return {
    ...(nextReported ? { reported: nextReported } : {}),
    ...(nextObserved ? { observed: nextObserved } : {}),
    pendingSince: prev?.pendingSince ?? seq,
    seq,
  };
}

function metadata(v: StatusValue): Record<string, string> {
  return { timestamp: String(v.timestamp), type: v.type, ...(v.ack ? { ack: v.ack } : {}) };
}

/** The CRD twins list for `properties` (spec order), from the rows held. */
export function crdTwins(properties: readonly string[], rows: ReadonlyMap<string, StatusRow> | undefined): CrdTwin[] {
  const twins: CrdTwin[] = [];
  for (const name of properties) {
    const row = rows?.get(name);
    if (!row || (!row.reported && !row.observed)) continue;
    twins.push({
      propertyName: name,
      ...(row.reported ? { reported: { value: row.reported.value, metadata: metadata(row.reported) } } : {}),
      ...(row.observed ? { observedDesired: { value: row.observed.value, metadata: metadata(row.observed) } } : {}),
    });
  }
  return twins;
}

function timestampOf(v: { metadata?: Record<string, string> } | undefined): number {
  const n = Number(v?.metadata?.timestamp);
  return Number.isFinite(n) ? n : -1;
}

/**
 * The twins list to write over what the cluster holds: ours, except where the cluster holds a
 * newer reported value (another writer, or a write of ours acknowledged after a restart lost
 * the ack): edge wins, but never by going back in time.
 */
export function protectNewer(ours: readonly CrdTwin[], theirs: unknown): CrdTwin[] {
  if (!Array.isArray(theirs)) return [...ours];
  const cluster = new Map<string, CrdTwin>();
  for (const t of theirs as unknown[]) {
    const name = (t as { propertyName?: unknown } | null)?.propertyName;
    if (typeof name === 'string') cluster.set(name, t as CrdTwin);
  }
  return ours.map((t) => {
    const c = cluster.get(t.propertyName);
    if (!c) return t;
    const reported = c.reported && timestampOf(c.reported) > timestampOf(t.reported) ? c.reported : t.reported;
    const observedDesired = c.observedDesired && timestampOf(c.observedDesired) > timestampOf(t.observedDesired) ? c.observedDesired : t.observedDesired;
    return { propertyName: t.propertyName, ...(reported ? { reported } : {}), ...(observedDesired ? { observedDesired } : {}) };
  });
}

/** The `status` object both layouts write. */
export function statusOf(twins: readonly CrdTwin[], device: Pick<DeviceTwinState, 'state' | 'lastOnline'> | undefined, state?: { state: string; lastOnline: string }): Record<string, unknown> {
  const s = state ?? (device ? { state: device.state, lastOnline: device.lastOnline } : undefined);
  return { twins, ...(s ? { state: s.state, lastOnlineTime: s.lastOnline } : {}) };
}

/**
 * A merge-patch body. With `resourceVersion` the server refuses it with 409 when the object
 * changed since we read it (optimistic concurrency: merge-patch replaces the twins array whole).
 */
export function patchBody(status: Record<string, unknown>, resourceVersion: string | undefined): Record<string, unknown> {
  return { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status };
}
