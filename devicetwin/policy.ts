// The twin module's side of security and limits, as pure functions: which kinds of change an
// update makes (so a policy that sees topics only can still tell a mapper's report from an
// app's decision), and which devices a node takes under mqtt.limits.

import { edgetwinError, type EdgetwinError } from '../errors.js';
import type { MessageOrigin, TwinChangeKind } from '../eventbus/index.js';
import type { DeviceInstance, DeviceModel } from '../schemas/index.js';
import type { DeviceTwinState, TwinState } from './types.js';

export type { TwinChangeKind };

/** Decides whether the MQTT client behind an update may make these changes; the refusal, or undefined. */
export type ChangeAuthorizer = (origin: MessageOrigin, id: string, kinds: ReadonlySet<TwinChangeKind>) => EdgetwinError | undefined;

export interface DeviceLimits {
  readonly maxDevices: number;
  readonly maxPropertiesPerDevice: number;
}

function live(t: TwinState | undefined): TwinState | undefined {
  return t !== undefined && t.type !== 'deleted' ? t : undefined;
}

/**
 * The kinds of change from `prev` to `next` over the properties named in `changed`. Judged on
 * the effect, not the message, so a mapper that echoes the current desired value back (some
 * KubeEdge mappers send the whole twin) is not refused for a value it does not change.
 */
export function changeKinds(prev: DeviceTwinState, next: DeviceTwinState, changed: readonly string[]): Set<TwinChangeKind> {
  const kinds = new Set<TwinChangeKind>();
  for (const key of changed) {
    const before = live(prev.twins[key]);
    const after = live(next.twins[key]);
    if (before !== undefined && after === undefined) {
      kinds.add('delete');
      continue;
    }
    if (after === undefined) continue;
    // Setting the same desired value again after a failed write re-opens it (merge.ts): a new
    // timestamp with the same value is a desired change too, not an ack.
    const desiredChanged = after.expected?.value !== before?.expected?.value || after.expected?.timestamp !== before?.expected?.timestamp;
    if (desiredChanged) kinds.add('desired');
    if (after.actual?.value !== before?.actual?.value) kinds.add('reported');
    // A new desired value resets its ack to pending: that is part of setting it, not an ack.
    const ackChanged = after.ack?.state !== before?.ack?.state || after.ack?.code !== before?.ack?.code || after.ack?.reason !== before?.ack?.reason;
    if (!desiredChanged && ackChanged) kinds.add('ack');
    if (!after.optional && (before === undefined || before.optional)) kinds.add('optional');
  }
  return kinds;
}

interface Bindable {
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
}

/**
 * Which of `requested` a node takes: a device whose model has more than maxPropertiesPerDevice
 * properties is refused, and so is each new device beyond maxDevices (counting those bound from
 * other origins, `elsewhere`). Devices already bound (`isBound`) keep their place, so a limit
 * never unbinds a device that is serving. Each refusal is a coded error whose detail path is
 * the device id.
 */
export function admitDevices<D extends Bindable>(
  requested: readonly D[],
  limits: DeviceLimits | undefined,
  isBound: (id: string) => boolean,
  elsewhere: ReadonlySet<string>,
): { admitted: D[]; refused: EdgetwinError[] } {
  if (!limits) return { admitted: [...requested], refused: [] };
  const refused: EdgetwinError[] = [];
  const refuse = (code: 'EDGETWIN_ERR_LIMIT_PROPERTIES' | 'EDGETWIN_ERR_LIMIT_DEVICES', id: string, message: string): false => {
    refused.push(edgetwinError(code, `device ${id} not bound: ${message}`, [{ path: id, code, message }]));
    return false;
  };
  const fits = requested.filter(({ instance, model }) =>
    model.properties.size <= limits.maxPropertiesPerDevice ||
    refuse('EDGETWIN_ERR_LIMIT_PROPERTIES', instance.id, `model ${model.name} has ${model.properties.size} properties (mqtt.limits.maxPropertiesPerDevice is ${limits.maxPropertiesPerDevice})`),
  );
  const counted = new Set(elsewhere);
  for (const d of fits) if (isBound(d.instance.id)) counted.add(d.instance.id);
  const admitted = fits.filter(({ instance }) => {
    if (counted.has(instance.id)) return true;
    if (counted.size < limits.maxDevices) return counted.add(instance.id).size > 0;
    return refuse('EDGETWIN_ERR_LIMIT_DEVICES', instance.id, `the node already has ${limits.maxDevices} devices (mqtt.limits.maxDevices)`);
  });
  return { admitted, refused };
}
