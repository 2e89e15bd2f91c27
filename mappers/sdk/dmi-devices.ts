// What a DMI mapper holds: the models and Devices edgecore gave it (MapperRegister, then the
// DeviceMapperService calls), each Device's desired values and last readings. Served to
// edgecore as DeviceMapperService (mapper-framework's pkg/grpcserver/device.go is the
// behaviour matched, docs/dmi.md "How mapper-framework handles these"), with coded errors
// where mapper-framework would crash or answer a bare string.

import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { fromPbDevice, fromPbDeviceModel, pbKey, type PbDevice, type PbDeviceModel, type PbDeviceRef, type PbDeviceRequest, type PbModelRef, type PbModelRequest, type PbTwin } from '../../dmi/index.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';

export interface HeldDevice {
  readonly id: string;
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  /** `spec.properties[].desired.value` where set: what the closed loop works to. */
  readonly desired: ReadonlyMap<string, string>;
  /** Properties reported to edgecore on every reading (`reportToCloud: true`, as mapper-framework). */
  readonly reported: ReadonlySet<string>;
}

/** What the book asks of its owner when the device set changes. */
export interface DeviceBookOwner {
  /** The device set changed: restart what changed. Rejects with the device's own coded error if `id` could not start. */
  apply(id?: string): Promise<void>;
  /** Only desired values of `id` changed: hand them to the running worker. */
  desiredChanged(held: HeldDevice, changed: ReadonlyMap<string, string>): void;
}

export class DmiDeviceBook {
  readonly models = new Map<string, DeviceModel>();
  readonly devices = new Map<string, HeldDevice>();
  /** Last reading per device and property (wire strings), for GetDevice. */
  readonly readings = new Map<string, Map<string, string>>();

  constructor(
    private readonly protocol: string,
    private readonly owner: DeviceBookOwner,
    private readonly modelWaitMs: number,
  ) {}

  /** Models and devices from a MapperRegister answer; what cannot be taken is returned, coded. */
  load(models: readonly PbDeviceModel[], devices: readonly PbDevice[]): EdgetwinError[] {
    const problems: EdgetwinError[] = [];
    for (const m of models) {
      try {
        this.models.set(pbKey(m.namespace, m.name), fromPbDeviceModel(m));
      } catch (err) {
        problems.push(err as EdgetwinError);
      }
    }
    const next = new Map<string, HeldDevice>();
    for (const pb of devices) {
      try {
        const held = this.convert(pb);
        next.set(held.id, held);
      } catch (err) {
        problems.push(err as EdgetwinError);
      }
    }
    // A device the answer changes only in its desired values keeps running and gets a delta.
    const desiredOnly: Array<[HeldDevice, Map<string, string>]> = [];
    for (const [id, d] of next) {
      const old = this.devices.get(id);
      if (!old || !sameButDesired(old, d)) continue;
      const changed = new Map([...d.desired].filter(([p, v]) => old.desired.get(p) !== v));
      if (changed.size > 0) desiredOnly.push([d, changed]);
    }
    this.devices.clear();
    for (const [id, d] of next) this.devices.set(id, d);
    for (const [d, changed] of desiredOnly) this.owner.desiredChanged(d, changed);
    for (const id of this.readings.keys()) if (!this.devices.has(id)) this.readings.delete(id);
    return problems;
  }

  /** A Device message → what the runtime serves. Throws a coded error (protocol, model, config). */
  convert(pb: PbDevice, model?: DeviceModel): HeldDevice {
    const protocol = pb.spec?.protocol?.protocolName ?? '';
    if (pb.spec && protocol !== this.protocol) {
      throw edgetwinError('EDGETWIN_ERR_DMI_PROTOCOL_MISMATCH', `Device ${pbKey(pb.namespace, pb.name)} is for protocol "${protocol}"; this mapper serves "${this.protocol}"`);
    }
    const m = model ?? this.modelOf(pb);
    const { instance, desired } = fromPbDevice(pb, m);
    // mapper-framework writes no desired value to a ReadOnly property (device.go setVisitor).
    const writable = new Map([...desired].filter(([p]) => m.properties.get(p)?.readOnly === false));
    const reported = new Set(instance.properties.filter((p) => p.reportToCloud === true).map((p) => p.name));
    return { id: instance.id, instance, model: m, desired: writable, reported };
  }

  private modelOf(pb: PbDevice): DeviceModel {
    const key = pbKey(pb.namespace, pb.spec?.deviceModelReference);
    const model = this.models.get(key);
    if (!model) {
      throw edgetwinError('EDGETWIN_ERR_DMI_MODEL_UNKNOWN', `Device ${pbKey(pb.namespace, pb.name)} names DeviceModel ${key}, which this mapper has not been given`, [
        { path: '/spec/deviceModelReference', message: `model ${key} unknown` },
      ]);
    }
    return model;
  }

  /** mapper-framework looks the model up 3 times at 1 s intervals when a device is registered. */
  private async waitForModel(pb: PbDevice): Promise<void> {
    const key = pbKey(pb.namespace, pb.spec?.deviceModelReference);
    for (let waited = 0; !this.models.has(key) && waited < this.modelWaitMs; waited += 100) await new Promise((r) => setTimeout(r, 100));
  }

  /** DeviceMapperService, as handlers of decoded requests. */
  handlers(): Record<string, (request: never) => Promise<object>> {
    return {
      RegisterDevice: async (req: PbDeviceRequest) => {
        const pb = required(req.device, 'RegisterDevice');
        const id = pbKey(pb.namespace, pb.name);
        // As mapper-framework: a device it already has is answered OK and left as it is.
        if (!this.devices.has(id)) {
          await this.waitForModel(pb);
          this.devices.set(id, this.convert(pb));
          try {
            await this.owner.apply(id);
          } catch (err) {
            this.devices.delete(id);
            await this.owner.apply();
            throw err;
          }
        }
        return { deviceName: pb.name ?? '', deviceNamespace: pb.namespace ?? '' };
      },
      UpdateDevice: async (req: PbDeviceRequest) => {
        const pb = required(req.device, 'UpdateDevice');
        const held = this.convert(pb);
        const old = this.devices.get(held.id);
        this.devices.set(held.id, held);
        if (old && sameButDesired(old, held)) {
          const changed = new Map([...held.desired].filter(([p, v]) => old.desired.get(p) !== v));
          if (changed.size > 0) this.owner.desiredChanged(held, changed);
          return {};
        }
        await this.owner.apply(held.id);
        return {};
      },
      RemoveDevice: async (req: PbDeviceRef) => {
        if (!req.deviceName) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'RemoveDevice without a deviceName', [{ path: '/deviceName', message: 'is empty' }]);
        const id = pbKey(req.deviceNamespace, req.deviceName);
        if (!this.devices.delete(id)) throw notFound(id);
        this.readings.delete(id);
        await this.owner.apply();
        return {};
      },
      CreateDeviceModel: (req: PbModelRequest) => {
        const pb = requiredModel(req.model, 'CreateDeviceModel');
        this.models.set(pbKey(pb.namespace, pb.name), fromPbDeviceModel(pb));
        return Promise.resolve({ deviceModelName: pb.name ?? '', deviceModelNamespace: pb.namespace ?? '' });
      },
      UpdateDeviceModel: (req: PbModelRequest) => {
        const pb = requiredModel(req.model, 'UpdateDeviceModel');
        const key = pbKey(pb.namespace, pb.name);
        if (!this.models.has(key)) throw edgetwinError('EDGETWIN_ERR_DMI_MODEL_UNKNOWN', `UpdateDeviceModel: DeviceModel ${key} is not known here (CreateDeviceModel first)`);
        // Stored, as mapper-framework does; devices take it at their next RegisterDevice/UpdateDevice.
        this.models.set(key, fromPbDeviceModel(pb));
        return Promise.resolve({});
      },
      RemoveDeviceModel: (req: PbModelRef) => {
        this.models.delete(pbKey(req.modelNamespace, req.modelName));
        return Promise.resolve({});
      },
      GetDevice: (req: PbDeviceRef) => {
        const id = pbKey(req.deviceNamespace, req.deviceName);
        const held = this.devices.get(id);
        if (!held) throw notFound(id);
        return Promise.resolve({ device: { name: held.instance.name, namespace: held.instance.namespace, status: { twins: this.twinsOf(held) } } });
      },
    };
  }

  /** Last readings as Twins (both TwinProperty messages set: edgecore dereferences them). */
  twinsOf(held: HeldDevice): PbTwin[] {
    const readings = this.readings.get(held.id);
    return held.instance.properties.map((p) => ({
      propertyName: p.name,
      reported: { value: readings?.get(p.name) ?? '', metadata: { type: held.model.properties.get(p.name)?.type ?? '', timestamp: '' } },
      observedDesired: { value: held.desired.get(p.name) ?? '', metadata: {} },
    })).filter((t) => t.reported.value !== '');
  }
}

function required(device: PbDevice | null | undefined, method: string): PbDevice {
  if (!device) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', `${method} without a device`, [{ path: '/device', message: 'is missing' }]);
  return device;
}

function requiredModel<T>(model: T | null | undefined, method: string): T {
  if (!model) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', `${method} without a model`, [{ path: '/model', message: 'is missing' }]);
  return model;
}

function notFound(id: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} is not served by this mapper`);
}

/** Same device but for desired values: the worker keeps running and gets a delta. */
function sameButDesired(a: HeldDevice, b: HeldDevice): boolean {
  const strip = (d: HeldDevice): string => JSON.stringify([d.instance, d.model.name]);
  // edgecore sends UpdateDeviceModel before every UpdateDevice: the same model, a new object.
  const sameModel = a.model === b.model || JSON.stringify(a.model.schema) === JSON.stringify(b.model.schema);
  return sameModel && strip(a) === strip(b);
}
