// A DeviceModel's protocol defaults merged into a Device, as KubeEdge ≥ 1.22 does before it
// hands the Device to a mapper (`overrideDeviceInstanceConfig` in
// edge/pkg/devicetwin/dmicache/dmicache.go): the model's `protocolConfigData` under the Device's
// `protocol.configData`, and each listed property's model `visitors` under its own, key by key,
// the Device's values winning. Every path a device comes from (manifests, cluster sync) goes
// through parseDeviceManifest, which applies this, so mappers only ever see merged devices.

import type { DeviceInstance, DeviceModel, PropertyInstance, ProtocolConfig } from './types.js';

/**
 * `instance` with `model`'s defaults merged in; the same object when the model has none.
 *
 * - `protocol.configData` = model `protocolConfigData` ∪ Device `protocol.configData` (the
 *   Device's keys win). A Device without `spec.protocol` names no mapper, so it stays without
 *   one, as in KubeEdge (whose DMI routes by the Device's protocolName).
 * - For each property the Device lists: `visitors.configData` = model visitor configData ∪
 *   Device visitor configData. The protocol name is the Device's when it names one (KubeEdge
 *   takes the model's; they differ only in a broken manifest), else the model visitor's, else
 *   the Device's protocol. Model properties the Device does not list get nothing, as in KubeEdge.
 */
export function applyModelDefaults(instance: DeviceInstance, model: DeviceModel): DeviceInstance {
  const defaults = model.defaults;
  if (!defaults) return instance;
  let protocol = instance.protocol;
  if (protocol && defaults.protocolConfigData) {
    protocol = { protocolName: protocol.protocolName, configData: { ...defaults.protocolConfigData, ...protocol.configData } };
  }
  let changed = protocol !== instance.protocol;
  const properties = instance.properties.map((p): PropertyInstance => {
    const fallback = defaults.visitors.get(p.name);
    if (!fallback) return p;
    const protocolName = p.visitors?.protocolName ?? fallback.protocolName ?? instance.protocol?.protocolName ?? defaults.protocol;
    if (protocolName === undefined) return p;
    const visitors: ProtocolConfig = { protocolName, configData: { ...fallback.configData, ...(p.visitors?.configData ?? {}) } };
    changed = true;
    return { ...p, visitors };
  });
  if (!changed) return instance;
  return { ...instance, ...(protocol ? { protocol } : {}), properties };
}
