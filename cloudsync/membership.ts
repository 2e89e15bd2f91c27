// Which cluster Devices this node binds, and with which model: Devices whose spec.nodeName is
// this node, each with the DeviceModel of its namespace (converted to a JSON Schema model), or a
// local model of that name when the cluster has none. Conversions are memoised by
// resourceVersion, so a watch event re-plans 1,000 devices without re-compiling anything.

import { isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../errors.js';
import { compileModel, fromDeviceModel, parseDeviceManifest, type DeviceInstance, type DeviceModel } from '../schemas/index.js';
import type { KubeObject } from './kube.js';
import { objectKey } from './reflector.js';

export interface ClusterDevice {
  readonly id: string;
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  readonly object: KubeObject;
  /** spec.properties[].desired.value by property ('' = none). */
  readonly desired: ReadonlyMap<string, string>;
  /** Properties whose twins go to the status (all listed, except `reportToCloud: false`). */
  readonly reported: readonly string[];
  /** The status write cadence: the smallest property reportCycle, else the configured default (ms). */
  readonly reportCycle: number;
}

export interface Problem {
  /** `<ns>/<name>` of the Device or DeviceModel. */
  readonly key: string;
  readonly error: EdgetwinError;
}

export interface Plan {
  readonly devices: ReadonlyMap<string, ClusterDevice>;
  readonly problems: readonly Problem[];
}

interface ModelMemo {
  readonly rv: string | undefined;
  readonly model?: DeviceModel;
  readonly error?: EdgetwinError;
}

interface DeviceMemo {
  readonly rv: string | undefined;
  /** What the device is made of: its spec, labels, annotations and its model's version. */
  readonly stamp: string;
  readonly device?: ClusterDevice;
  readonly error?: EdgetwinError;
}

type SpecProperty = { name?: unknown; desired?: { value?: unknown }; reportCycle?: unknown; reportToCloud?: unknown };

function specProperties(o: KubeObject): SpecProperty[] {
  const props = o.spec?.properties;
  return Array.isArray(props) ? (props as SpecProperty[]).filter((p) => typeof p === 'object' && p !== null) : [];
}

export class MembershipPlanner {
  private readonly models = new Map<string, ModelMemo>();
  private readonly devices = new Map<string, DeviceMemo>();

  constructor(
    private readonly nodeName: string,
    private readonly localModels: ReadonlyMap<string, DeviceModel>,
    private readonly defaultCycle: number,
  ) {}

  plan(devices: readonly KubeObject[], models: readonly KubeObject[]): Plan {
    const byKey = new Map(models.map((m) => [objectKey(m), m]));
    for (const key of this.models.keys()) if (!byKey.has(key)) this.models.delete(key);
    const out = new Map<string, ClusterDevice>();
    const problems: Problem[] = [];
    const seen = new Set<string>();
    for (const o of devices) {
      if (o.spec?.nodeName !== this.nodeName) continue;
      const key = objectKey(o);
      seen.add(key);
      const ns = o.metadata.namespace ?? 'default';
      const modelName = (o.spec.deviceModelRef as { name?: unknown } | undefined)?.name;
      const modelKey = `${ns}/${typeof modelName === 'string' ? modelName : ''}`;
      const modelObject = byKey.get(modelKey);
      const model = modelObject ? this.model(modelObject) : undefined;
      if (model?.error) {
        problems.push({ key, error: model.error });
        continue;
      }
      // A status write (layout `device`) changes the resourceVersion but not the device: only a
      // new spec, labels, annotations or model re-parse it, so a write never rebinds anything.
      const known = this.devices.get(key);
      const modelStamp = `${modelKey}@${model?.rv ?? 'local'}`;
      let memo: DeviceMemo;
      if (known && known.rv === o.metadata.resourceVersion && known.stamp.endsWith(modelStamp)) memo = known;
      else {
        const stamp = `${JSON.stringify([o.spec, o.metadata.labels, o.metadata.annotations])}|${modelStamp}`;
        memo = known?.stamp === stamp ? { ...known, rv: o.metadata.resourceVersion } : this.device(o, stamp, model?.model);
        this.devices.set(key, memo);
      }
      if (memo.device) out.set(memo.device.id, memo.device);
      else if (memo.error) problems.push({ key, error: memo.error });
    }
    for (const key of this.devices.keys()) if (!seen.has(key)) this.devices.delete(key);
    return { devices: out, problems };
  }

  private model(o: KubeObject): ModelMemo {
    const key = objectKey(o);
    const known = this.models.get(key);
    if (known && known.rv === o.metadata.resourceVersion) return known;
    let memo: ModelMemo;
    try {
      const { schema } = fromDeviceModel(o, `cluster DeviceModel ${key}`);
      memo = { rv: o.metadata.resourceVersion, model: compileModel(schema, `cluster DeviceModel ${key}`) };
    } catch (err) {
      memo = { rv: o.metadata.resourceVersion, error: isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_DEVICEMODEL_INVALID') };
    }
    this.models.set(key, memo);
    return memo;
  }

  private device(o: KubeObject, stamp: string, clusterModel: DeviceModel | undefined): DeviceMemo {
    const rv = o.metadata.resourceVersion;
    const props = specProperties(o);
    // Desired values are checked and applied by the sync, not here: a bad desired value must not
    // unbind a device (KubeEdge drops the whole Device on any error).
    const stripped = {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: o.metadata,
      spec: { ...o.spec, properties: props.map(({ desired: _d, ...rest }) => rest) },
    };
    const modelName = (o.spec?.deviceModelRef as { name?: string } | undefined)?.name ?? '';
    const model = clusterModel ?? this.localModels.get(modelName);
    const models = new Map(model ? [[modelName, model]] : []);
    try {
      const instance = parseDeviceManifest(stripped, models, `cluster Device ${objectKey(o)}`);
      const desired = new Map<string, string>();
      const reported: string[] = [];
      let cycle = Infinity;
      for (const p of props) {
        if (typeof p.name !== 'string') continue;
        if (typeof p.desired?.value === 'string') desired.set(p.name, p.desired.value);
        if (p.reportToCloud !== false) reported.push(p.name);
        if (typeof p.reportCycle === 'number' && p.reportCycle > 0) cycle = Math.min(cycle, p.reportCycle);
      }
      return {
        rv,
        stamp,
        device: { id: instance.id, instance, model: model!, object: o, desired, reported, reportCycle: Number.isFinite(cycle) ? cycle : this.defaultCycle },
      };
    } catch (err) {
      return { rv, stamp, error: isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_MANIFEST_INVALID') };
    }
  }
}
