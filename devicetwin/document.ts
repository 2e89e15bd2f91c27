// Pure conversions from twin state to KubeEdge's wire shapes, and the delta over all twins.

import type { DeviceTwinState, TwinState, TwinValue } from './types.js';
import type { MsgTwin, WireDevice, WireValue } from './wire.js';

function wireValue(v: TwinValue): WireValue {
  return { value: v.value, metadata: { timestamp: v.timestamp } };
}

/**
 * A twin as KubeEdge's MsgTwin. Versions are stripped (as on every MQTT answer) unless
 * `withVersions` (the cloud's `edge_updated` carries them). null for a soft-deleted twin.
 */
export function twinToWire(t: TwinState, withVersions = false): MsgTwin | null {
  if (t.type === 'deleted') return null;
  const out: MsgTwin = {};
  if (t.expected) out.expected = wireValue(t.expected);
  if (t.actual) out.actual = wireValue(t.actual);
  out.optional = t.optional;
  out.metadata = { type: t.type };
  if (t.ack) {
    out.ack = {
      state: t.ack.state,
      timestamp: t.ack.timestamp,
      ...(t.ack.code !== undefined ? { code: t.ack.code } : {}),
      ...(t.ack.reason !== undefined ? { reason: t.ack.reason } : {}),
    };
  }
  if (withVersions) {
    out.expected_version = { cloud: t.expectedVersion.cloud, edge: t.expectedVersion.edge };
    out.actual_version = { cloud: t.actualVersion.cloud, edge: t.actualVersion.edge };
  }
  return out;
}

/** Every non-deleted twin (what `twin/get/result` returns). */
export function twinsToWire(device: DeviceTwinState): Record<string, MsgTwin> {
  const out: Record<string, MsgTwin> = {};
  for (const key in device.twins) {
    const t = device.twins[key];
    const wire = t && twinToWire(t);
    if (wire) out[key] = wire;
  }
  return out;
}

/**
 * KubeEdge's delta: over ALL twins of the device, `expected` for every non-deleted twin whose
 * expected value is set and differs from the actual one (values are canonical, so "21" and
 * "21.0" compare equal here, unlike KubeEdge's string compare).
 */
export function computeDelta(device: DeviceTwinState): { twin: Record<string, MsgTwin>; delta: Record<string, string> } | undefined {
  let delta: Record<string, string> | undefined;
  let twin: Record<string, MsgTwin> | undefined;
  for (const key in device.twins) {
    const t = device.twins[key];
    if (!t || t.type === 'deleted' || t.expected === undefined || t.expected.value === '') continue;
    if (t.actual !== undefined && t.actual.value === t.expected.value) continue;
    delta ??= {};
    twin ??= {};
    delta[key] = t.expected.value;
    const wire = twinToWire(t);
    if (wire) twin[key] = wire;
  }
  return delta && twin ? { twin, delta } : undefined;
}

/** The membership view of a device (`membership/get/result`). */
export function deviceToWire(device: DeviceTwinState, description?: string): WireDevice {
  return {
    id: device.id,
    name: device.name,
    ...(description ? { description } : {}),
    state: device.state,
    last_online: device.lastOnline,
  };
}
