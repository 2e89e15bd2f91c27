// Which device properties become Prometheus metrics (docs/telemetry.md, "Device values as
// metrics"): opt-in. A property is exported when its device's `telemetry.prometheus.devices`
// entry says so, else its model's `telemetry.prometheus.models` entry, else when its Device
// manifest marks it `reportToCloud: true` (KubeEdge's flag for "this value leaves the node") and
// `telemetry.prometheus.reportToCloud` is on. Only numeric and boolean properties have a value.

import type { DeviceInstance, DeviceModel, EdgetwinConfig } from '../../schemas/index.js';

export interface DeviceValuesPolicy {
  readonly enabled: boolean;
  readonly maxSeries: number;
  readonly reportToCloud: boolean;
  /** By `<namespace>/<name>`: every numeric and boolean property of the device, or none. */
  readonly devices: ReadonlyMap<string, boolean>;
  /** By model name, for every device of the model; a device's entry wins. */
  readonly models: ReadonlyMap<string, boolean>;
}

export const DEFAULT_DEVICE_VALUES_POLICY: DeviceValuesPolicy = { enabled: true, maxSeries: 10_000, reportToCloud: true, devices: new Map(), models: new Map() };

export function deviceValuesPolicy(config: EdgetwinConfig['telemetry']['prometheus']): DeviceValuesPolicy {
  const entries = (o: Readonly<Record<string, { enabled?: boolean }>>): Map<string, boolean> =>
    new Map(Object.entries(o).flatMap(([k, v]) => (v.enabled === undefined ? [] : [[k, v.enabled] as const])));
  return { enabled: config.enabled, maxSeries: config.maxSeries, reportToCloud: config.reportToCloud, devices: entries(config.devices), models: entries(config.models) };
}

/** Is a property of this device exported? `reportToCloud` is the Device manifest's flag on the property. */
export function selectsProperty(policy: DeviceValuesPolicy, device: string, model: string, reportToCloud: boolean): boolean {
  if (!policy.enabled) return false;
  return policy.devices.get(device) ?? policy.models.get(model) ?? (policy.reportToCloud && reportToCloud);
}

const HAS_VALUE = new Set(['int', 'float', 'double', 'boolean']);

/**
 * The properties of a bound device that are exported, with their unit ('' when none): what
 * /metrics shows, and what a feed routes to the remote-write sink so both follow one opt-in.
 */
export function selectedProperties(policy: DeviceValuesPolicy, instance: DeviceInstance, model: DeviceModel): Array<{ readonly name: string; readonly unit: string }> {
  const out: Array<{ readonly name: string; readonly unit: string }> = [];
  for (const [name, prop] of model.properties) {
    if (!HAS_VALUE.has(prop.type)) continue;
    const reportToCloud = instance.properties.find((p) => p.name === name)?.reportToCloud === true;
    if (selectsProperty(policy, instance.id, model.name, reportToCloud)) out.push({ name, unit: prop.unit ?? '' });
  }
  return out;
}
