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
 * KubeEdge's delta (`dttype.BuildDeviceTwinDelta`): built over ALL twins of the device. `twin`
 * holds every non-deleted twin whose expected value is set, INCLUDING those where expected equals
 * actual; only `delta` is limited to the twins that differ. Mappers rely on the former: the
 * kubeedge/examples traffic-light mapper reads each of its lights from `twin` on every delta.
 * Published only when `delta` is not empty (undefined here). Values are canonical, so "21" and
 * "21.0" compare equal (KubeEdge compares the strings as sent).
 */
export function computeDelta(device: DeviceTwinState): { twin: Record<string, MsgTwin>; delta: Record<string, string> } | undefined {
  let delta: Record<string, string> | undefined;
  for (const key in device.twins) {
    const t = device.twins[key];
    if (!t || t.type === 'deleted' || t.expected === undefined || t.expected.value === '') continue;
    if (t.actual === undefined || t.actual.value !== t.expected.value) (delta ??= {})[key] = t.expected.value;
  }
  // The common case, a report that leaves every desired value met, builds nothing more.
  if (!delta) return undefined;
  const twin: Record<string, MsgTwin> = {};
  for (const key in device.twins) {
    const t = device.twins[key];
    if (!t || t.type === 'deleted' || t.expected === undefined || t.expected.value === '') continue;
    const wire = twinToWire(t);
    if (wire) twin[key] = wire;
  }
  return { twin, delta };
}

/**
 * The membership view of a device (`membership/get/result`), as KubeEdge's `dttype.Device` with
 * its omitempty fields: no `description`, `state` or `last_online` while they are empty. A
 * device no mapper has reported on yet (still `unknown`, never online) has no state to show.
 */
export function deviceToWire(device: DeviceTwinState, description?: string): WireDevice {
  const reported = device.state !== 'unknown' || device.lastOnline !== '';
  return {
    id: device.id,
    name: device.name,
    ...(description ? { description } : {}),
    ...(reported ? { state: device.state } : {}),
    ...(device.lastOnline !== '' ? { last_online: device.lastOnline } : {}),
  };
}
