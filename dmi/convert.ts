// DeviceInstance + DeviceModel ⇄ the DMI Device and DeviceModel messages.
//
// Towards a mapper this is what edgecore's ConvertDevice/ConvertDeviceModel produce
// (kubeedge/kubeedge edge/pkg/devicetwin/dtcommon/util.go; docs/dmi.md): configData packed as
// Any (dmi/any.ts); `desired`, `visitors` and `visitors.configData` always present, because
// mapper-framework dereferences them without a nil check; stateReport as `status`; the model in
// the Device's namespace with KubeEdge's type names and accessMode (schemas/devicemodel.ts).
// From a mapper's side, the messages become a Device manifest and a DeviceModel object that go
// through the same checks as files do (parseDeviceManifest, fromDeviceModel, compileModel).

import { edgetwinError, isEdgetwinError, toEdgetwinError } from '../errors.js';
import {
  compileModel,
  DEVICE_API_VERSION,
  DEVICEMODEL_API_VERSION,
  fromDeviceModel,
  parseDeviceManifest,
  toDeviceModel,
  type DeviceInstance,
  type DeviceModel,
} from '../schemas/index.js';
import { packConfig, unpackConfig, type PackOptions } from './any.js';
import type { PbDevice, PbDeviceModel, PbDeviceProperty, PbModelProperty } from './messages.js';

/** `<namespace>/<name>` of a Device or DeviceModel message (an empty namespace means default). */
export function pbKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace === undefined || namespace === '' ? 'default' : namespace}/${name ?? ''}`;
}

export interface ToPbDeviceOptions extends PackOptions {
  /** The desired value each property has now (the twin's), replacing the manifest's. */
  readonly desired?: ReadonlyMap<string, string>;
}

/**
 * A bound device as edgecore sends it to a mapper. Throws EDGETWIN_ERR_DMI_VALUE (naming every
 * configData key that cannot travel): that Device is not sent, the others are.
 */
export function toPbDevice(instance: DeviceInstance, options: ToPbDeviceOptions): PbDevice {
  const at = `device ${instance.id}`;
  const protocolName = instance.protocol?.protocolName ?? '';
  const problems: Error[] = [];
  const packed = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      problems.push(err as Error);
      return fallback;
    }
  };
  const protocol = {
    protocolName,
    configData: { data: packed(() => packConfig(instance.protocol?.configData ?? {}, '/spec/protocol/configData', options), {}) },
  };
  const properties: PbDeviceProperty[] = instance.properties.map((p, i) => ({
    name: p.name,
    desired: { value: options.desired?.get(p.name) ?? p.desired?.value ?? '', metadata: { ...(p.desired?.metadata ?? {}) } },
    visitors: {
      protocolName: p.visitors?.protocolName ?? '',
      configData: { data: packed(() => packConfig(p.visitors?.configData ?? {}, `/spec/properties/${i}/visitors/configData`, options), {}) },
    },
    reportCycle: p.reportCycle ?? 0,
    collectCycle: p.collectCycle ?? 0,
    reportToCloud: p.reportToCloud ?? false,
  }));
  if (problems.length > 0) {
    const details = problems.flatMap((e) => (isEdgetwinError(e) ? e.details : [{ message: e.message }]));
    throw edgetwinError('EDGETWIN_ERR_DMI_VALUE', `${at} cannot be sent over DMI: ${details.map((d) => `${d.path ?? ''} ${d.message}`).join('; ')}`, details);
  }
  return {
    name: instance.name,
    namespace: instance.namespace,
    spec: { deviceModelReference: instance.model, protocol, properties, methods: [] },
    status: { twins: [], reportToCloud: instance.stateReport?.reportToCloud ?? false, reportCycle: instance.stateReport?.reportCycle ?? 0 },
  };
}

/** A model as edgecore sends it: in the Device's namespace, KubeEdge's type names and accessMode. */
export function toPbDeviceModel(model: DeviceModel, namespace: string): PbDeviceModel {
  const kube = toDeviceModel(model.schema);
  const properties: PbModelProperty[] = (kube.spec.properties ?? []).map((p) => ({
    name: p.name,
    description: p.description ?? '',
    type: p.type ?? 'STRING',
    accessMode: p.accessMode ?? 'ReadWrite',
    minimum: p.minimum ?? '',
    maximum: p.maximum ?? '',
    unit: p.unit ?? '',
  }));
  return { name: model.name, namespace, spec: { properties, commands: [] } };
}

/**
 * A DeviceModel message → a compiled model. Throws EDGETWIN_ERR_DEVICEMODEL_INVALID (a property
 * without a known type, a bound that is not a number) or EDGETWIN_ERR_MODEL_INVALID.
 */
export function fromPbDeviceModel(pb: PbDeviceModel): DeviceModel {
  const name = pb.name ?? '';
  const where = `DeviceModel ${pbKey(pb.namespace, name)}`;
  const kube = {
    apiVersion: DEVICEMODEL_API_VERSION,
    kind: 'DeviceModel',
    metadata: { name, namespace: pb.namespace === '' ? 'default' : pb.namespace },
    spec: {
      properties: (pb.spec?.properties ?? []).map((p) => ({
        name: p.name,
        ...(p.description ? { description: p.description } : {}),
        type: p.type,
        ...(p.accessMode ? { accessMode: p.accessMode } : {}),
        ...(p.minimum ? { minimum: p.minimum } : {}),
        ...(p.maximum ? { maximum: p.maximum } : {}),
        ...(p.unit ? { unit: p.unit } : {}),
      })),
    },
  };
  if (name === '') throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'a DeviceModel without a name', [{ path: '/name', message: 'is empty' }]);
  return compileModel(fromDeviceModel(kube, where).schema, where);
}

/** What a mapper gets from a Device message: the instance, and the desired values apart. */
export interface FromPbDevice {
  readonly instance: DeviceInstance;
  /** `spec.properties[].desired.value` where not empty (the mapper applies them). */
  readonly desired: ReadonlyMap<string, string>;
}

/**
 * A Device message → a DeviceInstance, checked against `model` like a manifest file. The
 * desired values are taken out before the check: a value the model refuses is the closed
 * loop's to reject (its ack), not a reason to refuse the whole device. Throws a coded error:
 * EDGETWIN_ERR_DMI_REQUEST (no name, no spec), EDGETWIN_ERR_DMI_VALUE (an Any), or the
 * manifest's own (EDGETWIN_ERR_MANIFEST_INVALID…).
 */
export function fromPbDevice(pb: PbDevice, model: DeviceModel): FromPbDevice {
  const key = pbKey(pb.namespace, pb.name);
  if (!pb.name) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'a Device without a name', [{ path: '/name', message: 'is empty' }]);
  const spec = pb.spec;
  if (!spec) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', `Device ${key} has no spec`, [{ path: '/spec', message: 'is missing' }]);
  const desired = new Map<string, string>();
  try {
    const properties = (spec.properties ?? []).map((p, i) => {
      const name = p.name ?? '';
      if (p.desired?.value) desired.set(name, p.desired.value);
      // edgecore sends an empty visitors block for a property that has none in the CR.
      const visitors = p.visitors && (p.visitors.protocolName || Object.keys(p.visitors.configData?.data ?? {}).length > 0) ? p.visitors : undefined;
      return {
        name,
        ...(visitors ? { visitors: { protocolName: visitors.protocolName || spec.protocol?.protocolName || '', configData: unpackConfig(visitors.configData?.data, `/spec/properties/${i}/visitors/configData`) } } : {}),
        ...(p.collectCycle ? { collectCycle: p.collectCycle } : {}),
        ...(p.reportCycle ? { reportCycle: p.reportCycle } : {}),
        // proto3 cannot tell false from unset: only true says anything.
        ...(p.reportToCloud ? { reportToCloud: true } : {}),
      };
    });
    const status = pb.status;
    const manifest = {
      apiVersion: DEVICE_API_VERSION,
      kind: 'Device',
      metadata: { name: pb.name, namespace: pb.namespace || 'default' },
      spec: {
        deviceModelRef: { name: spec.deviceModelReference ?? '' },
        ...(spec.protocol ? { protocol: { protocolName: spec.protocol.protocolName ?? '', configData: unpackConfig(spec.protocol.configData?.data, '/spec/protocol/configData') } } : {}),
        properties,
        ...(status && (status.reportToCloud || status.reportCycle) ? { stateReport: { reportToCloud: status.reportToCloud ?? false, reportCycle: status.reportCycle ?? 0 } } : {}),
      },
    };
    return { instance: parseDeviceManifest(manifest, new Map([[model.name, model]]), `DMI Device ${key}`), desired };
  } catch (err) {
    throw isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_DMI_REQUEST');
  }
}
