// The pure twin merge: (state, update, model) → next state + result + document, or a coded
// error and no change at all. KubeEdge's semantics (kubeedge-notes §2, `dtmanager/twin.go`)
// with DESIGN.md's improvements: model-checked values, unchanged values not persisted, an
// optional version check, and a desired-value ack.

import { edgetwinError, type EdgetwinError, type ErrorDetail } from '../errors.js';
import type { KubeType, PropertyModel } from '../schemas/index.js';
import { twinToWire } from './document.js';
import type { ParsedUpdate, TwinPatch } from './parse.js';
import type { DesiredAck, DeviceTwinState, TwinState, TwinValue, TwinVersion } from './types.js';
import type { DocumentEntry, MsgTwin } from './wire.js';

/**
 * Who wrote the update. `edge`: a mapper or app over MQTT (bumps the `edge` version, KubeEdge's
 * RestDealType). `cloud`: cloud sync through the twin API (bumps `cloud`). `sync`: KubeEdge's
 * `twin/cloud_updated` with explicit versions (SyncDealType: the message's versions are adopted,
 * and rejected when older than the stored ones).
 */
export type UpdateOrigin = 'edge' | 'cloud' | 'sync';

export interface MergeContext {
  readonly now: number;
  readonly origin: UpdateOrigin;
  readonly properties: ReadonlyMap<string, PropertyModel>;
}

export interface MergeSuccess {
  readonly ok: true;
  /** The same object as the input when nothing changed. */
  readonly next: DeviceTwinState;
  /** Properties whose stored twin changed (to persist, and for the document). */
  readonly changed: readonly string[];
  /**
   * `twin/update/result`, as KubeEdge builds it (`dealTwinAdd` / `dealTwinCompare` /
   * `dealTwinDelete`): a new twin whole; an existing one with only the sides the message named,
   * plus `optional` and `metadata`; null for a deleted one; an ignored delete left out.
   */
  readonly result: Record<string, MsgTwin | null>;
  /** `twin/update/document`: last/current for every changed key. */
  readonly document: Record<string, DocumentEntry>;
}

export type MergeOutcome = MergeSuccess | { readonly ok: false; readonly error: EdgetwinError };

// KubeEdge's twin key regex (dtcommon.ValidateTwinKey).
const KEY_RE = /^[a-zA-Z0-9\-_.,:/@#]{1,128}$/;

// Which `metadata.type` spellings a message may carry for each model type (case-insensitive).
// KubeEdge only knows string|int|integer|float|boolean; edgetwin also accepts its own names.
const COMPATIBLE_TYPES: Readonly<Record<KubeType, ReadonlySet<string>>> = {
  int: new Set(['int', 'integer', 'int64', 'int32']),
  float: new Set(['float', 'double', 'number', 'float32', 'float64']),
  double: new Set(['double', 'float', 'number', 'float64']),
  boolean: new Set(['boolean', 'bool']),
  string: new Set(['string']),
  bytes: new Set(['bytes', 'string']),
};

/** Every spelling above: a `metadata.type` outside this set names no value type at all. */
const VALUE_TYPE_NAMES: ReadonlySet<string> = new Set(Object.values(COMPATIBLE_TYPES).flatMap((names) => [...names]));

/**
 * Whether a message's `metadata.type` contradicts the model. KubeEdge validates a value against
 * the STORED type of an existing twin and ignores the message's type (`isTwinValueDiff` in
 * edge/pkg/devicetwin/dtmanager/twin.go), so `{"type":"Updated"}` — what kubeedge/examples'
 * traffic-light, led-raspberrypi, counter and temperature mappers send with every report — is
 * accepted. In edgetwin every property already has its stored type, the model's, so a
 * `metadata.type` that names no value type (Updated, Deleted, ...) is ignored the same way; one
 * that names a different value type (`int` for a string property) is still refused: it is a
 * mapper decoding the property wrongly, not a label.
 */
function contradictsModel(type: string, model: PropertyModel): boolean {
  const t = type.toLowerCase();
  return VALUE_TYPE_NAMES.has(t) && !COMPATIBLE_TYPES[model.type].has(t);
}

const ZERO: TwinVersion = { cloud: 0, edge: 0 };

function bump(v: TwinVersion, origin: UpdateOrigin): TwinVersion {
  return origin === 'cloud' ? { cloud: v.cloud + 1, edge: v.edge } : { cloud: v.cloud, edge: v.edge + 1 };
}

interface CheckedPatch {
  readonly key: string;
  readonly patch: TwinPatch | null;
  readonly model: PropertyModel;
  readonly expected?: string;
  readonly actual?: string;
}

/** Validates every key before anything changes; returns all problems, not just the first. */
function checkPatches(state: DeviceTwinState, update: ParsedUpdate, ctx: MergeContext): { checked: CheckedPatch[]; problems: ErrorDetail[] } {
  const problems: ErrorDetail[] = [];
  const checked: CheckedPatch[] = [];
  for (const [key, patch] of update.twins) {
    if (!KEY_RE.test(key)) {
      problems.push({ path: key, code: 'EDGETWIN_ERR_PROPERTY_NAME', message: 'twin keys must match ^[a-zA-Z0-9-_.,:/@#]{1,128}$' });
      continue;
    }
    const model = ctx.properties.get(key);
    if (!model) {
      problems.push({ path: key, code: 'EDGETWIN_ERR_PROPERTY_UNKNOWN', message: `the model has no property "${key}"` });
      continue;
    }
    if (patch === null) {
      checked.push({ key, patch, model });
      continue;
    }
    if (patch.type !== undefined && contradictsModel(patch.type, model)) {
      problems.push({ path: key, code: 'EDGETWIN_ERR_TYPE_MISMATCH', message: `metadata.type "${patch.type}" does not match the model's type ${model.type}` });
      continue;
    }
    let expected: string | undefined;
    let actual: string | undefined;
    if (patch.expected !== undefined) {
      if (model.readOnly) {
        problems.push({ path: key, code: 'EDGETWIN_ERR_PROPERTY_READ_ONLY', message: `"${key}" is readOnly: it has no desired value` });
        continue;
      }
      const parsed = model.parse(patch.expected);
      if (!parsed.ok) {
        problems.push({ path: key, code: parsed.code, message: `expected: ${parsed.message}` });
        continue;
      }
      expected = parsed.wire;
    }
    if (patch.actual !== undefined) {
      const parsed = model.parse(patch.actual);
      if (!parsed.ok) {
        problems.push({ path: key, code: parsed.code, message: `actual: ${parsed.message}` });
        continue;
      }
      actual = parsed.wire;
    }
    if (ctx.origin === 'sync' && patch.type?.toLowerCase() !== 'deleted') {
      const problem = checkSyncVersions(state.twins[key], patch);
      if (problem) {
        problems.push({ path: key, code: 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT', message: problem });
        continue;
      }
    }
    checked.push({ key, patch, model, ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) });
  }
  return { checked, problems };
}

/** KubeEdge's `dealVersion` for cloud syncs: never let an older version overwrite a newer one. */
function checkSyncVersions(stored: TwinState | undefined, patch: TwinPatch): string | undefined {
  if (patch.expected !== undefined) {
    const req = patch.expectedVersion;
    if (!req) return 'version not allowed be nil while syncing';
    if (stored && stored.expectedVersion.cloud > req.cloud) return 'version not allowed: the stored cloud version is newer';
    if (stored && stored.expectedVersion.edge > req.edge) return 'not allowed to sync due to version conflict: the edge changed it since';
  }
  return undefined;
}

function sameValue(a: TwinValue | undefined, value: string | undefined): boolean {
  return a !== undefined && value !== undefined && a.value === value;
}

/**
 * Setting a desired value again after its write failed or was refused is a request to try
 * again, not a repeat: it re-opens the delta (ack back to `pending`, a new timestamp and
 * version), so it is persisted and published and the mapper writes it once more. A patch that
 * also carries an actual value or an ack is a mapper echoing the twin back (some KubeEdge
 * mappers send the whole twin), which must not re-open anything.
 */
function reopens(base: TwinState, patch: TwinPatch, origin: UpdateOrigin): boolean {
  const state = base.ack?.state;
  // `sync` replays the cloud's versions (KubeEdge's SyncDealType): a same-value sync is a no-op there.
  return (state === 'failed' || state === 'rejected') && origin !== 'sync' && patch.actual === undefined && patch.ack === undefined;
}

/** Applies one checked patch; returns the new twin, or the same object when nothing changed. */
function applyPatch(prev: TwinState | undefined, c: CheckedPatch, ctx: MergeContext): TwinState | undefined {
  const { patch, model } = c;
  const live = prev !== undefined && prev.type !== 'deleted' ? prev : undefined;
  if (patch === null) {
    // KubeEdge: delete only an optional twin; otherwise silently ignore. Soft delete keeps versions.
    if (!live || !live.optional) return prev;
    return { optional: live.optional, type: 'deleted', expectedVersion: live.expectedVersion, actualVersion: live.actualVersion };
  }
  // Only a cloud sync deletes by type (KubeEdge's SyncDealType); over MQTT it is just a label.
  if (ctx.origin === 'sync' && patch.type?.toLowerCase() === 'deleted') {
    if (!live) return prev;
    return { optional: live.optional, type: 'deleted', expectedVersion: live.expectedVersion, actualVersion: live.actualVersion };
  }
  const base: TwinState = live ?? {
    optional: true,
    type: model.type,
    expectedVersion: prev?.expectedVersion ?? ZERO,
    actualVersion: prev?.actualVersion ?? ZERO,
  };
  let next: TwinState = base;
  let changed = live === undefined;
  if (c.expected !== undefined && (!sameValue(base.expected, c.expected) || reopens(base, patch, ctx.origin))) {
    const ack: DesiredAck = { state: 'pending', timestamp: ctx.now };
    const expectedVersion = ctx.origin === 'sync' && patch.expectedVersion ? patch.expectedVersion : bump(base.expectedVersion, ctx.origin);
    next = { ...next, expected: { value: c.expected, timestamp: ctx.now }, expectedVersion, ack };
    changed = true;
  }
  if (c.actual !== undefined && !sameValue(base.actual, c.actual)) {
    const actualVersion = ctx.origin === 'sync' && patch.actualVersion ? patch.actualVersion : bump(base.actualVersion, ctx.origin);
    next = { ...next, actual: { value: c.actual, timestamp: ctx.now }, actualVersion };
    changed = true;
  }
  // KubeEdge: optional may only go true → false.
  if (patch.optional === false && next.optional) {
    next = { ...next, optional: false };
    changed = true;
  }
  if (patch.ack && next.expected && patch.ack.state !== 'pending') {
    const forValue = patch.ack.value === undefined ? next.expected.value : c.model.parse(patch.ack.value);
    const current = typeof forValue === 'string' ? forValue : forValue.ok ? forValue.wire : undefined;
    const prevAck = next.ack;
    const differs = !prevAck || prevAck.state !== patch.ack.state || prevAck.code !== patch.ack.code || prevAck.reason !== patch.ack.reason;
    // An ack for a desired value that has since been replaced is stale: ignore it.
    if (current === next.expected.value && differs) {
      next = {
        ...next,
        ack: {
          state: patch.ack.state,
          timestamp: ctx.now,
          ...(patch.ack.code !== undefined ? { code: patch.ack.code } : {}),
          ...(patch.ack.reason !== undefined ? { reason: patch.ack.reason } : {}),
        },
      };
      changed = true;
    }
  }
  return changed ? next : prev;
}

/** One key of `twin/update/result` (see MergeSuccess.result); undefined = left out. */
function resultFor(prev: TwinState | undefined, next: TwinState | undefined, patch: TwinPatch | null): MsgTwin | null | undefined {
  const wire = next ? twinToWire(next) : null;
  if (patch === null) return wire === null ? null : undefined; // KubeEdge: a refused delete is not answered
  if (prev === undefined || wire === null) return wire;
  const out: MsgTwin = {};
  if (patch.expected !== undefined && wire.expected) out.expected = wire.expected;
  if (patch.actual !== undefined && wire.actual) out.actual = wire.actual;
  out.optional = wire.optional ?? true;
  if (wire.metadata) out.metadata = wire.metadata;
  if (wire.ack && (patch.expected !== undefined || patch.ack !== undefined)) out.ack = wire.ack;
  return out;
}

/** Merges an update into a device's twins. All-or-nothing: one invalid key rejects the whole message. */
export function mergeUpdate(state: DeviceTwinState, update: ParsedUpdate, ctx: MergeContext): MergeOutcome {
  if (update.version !== undefined && update.version !== state.version) {
    const error = edgetwinError(
      'EDGETWIN_ERR_TWIN_VERSION_CONFLICT',
      `update was made against version ${update.version}, but the twin is at version ${state.version}; get the twin and retry`,
    );
    return { ok: false, error };
  }
  const { checked, problems } = checkPatches(state, update, ctx);
  const first = problems[0];
  if (first) {
    const message = problems.map((p) => `"${p.path ?? ''}": ${p.message}`).join('; ');
    return { ok: false, error: edgetwinError(first.code ?? 'EDGETWIN_ERR_PAYLOAD_SHAPE', `update rejected: ${message}`, problems) };
  }

  let twins: Record<string, TwinState> | undefined;
  const changed: string[] = [];
  const result: Record<string, MsgTwin | null> = {};
  const document: Record<string, DocumentEntry> = {};
  for (const c of checked) {
    const prev = (twins ?? state.twins)[c.key];
    const next = applyPatch(prev, c, ctx);
    if (next !== prev && next !== undefined) {
      twins ??= { ...state.twins };
      twins[c.key] = next;
      changed.push(c.key);
      document[c.key] = { last: prev ? twinToWire(prev) : null, current: twinToWire(next) };
    }
    const answer = resultFor(prev, next, c.patch);
    if (answer !== undefined) result[c.key] = answer;
  }
  if (!twins) return { ok: true, next: state, changed, result, document };
  return { ok: true, next: { ...state, twins, version: state.version + 1 }, changed, result, document };
}

/** A new, empty twin set for a device. */
export function emptyDevice(namespace: string, name: string): DeviceTwinState {
  return { id: `${namespace}/${name}`, namespace, name, version: 0, twins: {}, state: 'unknown', lastOnline: '' };
}
