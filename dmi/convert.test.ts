// DeviceInstance/DeviceModel ⇄ DMI messages: what edgecore sends, and back through the same
// checks a manifest file gets.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../errors.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels, type DeviceInstance } from '../schemas/index.js';
import { unpackValue } from './any.js';
import { fromPbDevice, fromPbDeviceModel, toPbDevice, toPbDeviceModel } from './convert.js';

const EXAMPLES = path.resolve(import.meta.dirname, '..', 'examples', 'devices');
const { models } = loadModels([BUNDLED_MODELS_DIR]);
const { devices } = loadDevices([EXAMPLES], models);
const thermostat = devices.find((d) => d.name === 'thermostat')!;
const ble = devices.find((d) => d.name === 'ble-env-sensor-1')!;
const model = models.get('thermostat')!;

// What DMI has no field for: where the manifest came from, its description, its node.
const withoutSource = ({ source: _s, description: _d, nodeName: _n, ...rest }: DeviceInstance): Omit<DeviceInstance, 'source'> => rest;

describe('a bound device as edgecore sends it', () => {
  const pb = toPbDevice(thermostat, { nested: false, desired: new Map([['setpoint', '23.5']]) });

  it('carries names, the model reference, the protocol and every property in the CR order', () => {
    expect(pb).toMatchObject({ name: 'thermostat', namespace: 'default', spec: { deviceModelReference: 'thermostat', protocol: { protocolName: 'modbus' } } });
    expect(pb.spec!.properties!.map((p) => p.name)).toEqual(thermostat.properties.map((p) => p.name));
  });

  it("puts the twin's desired value in properties[].desired, '' where there is none", () => {
    const byName = new Map(pb.spec!.properties!.map((p) => [p.name, p]));
    expect(byName.get('setpoint')!.desired).toEqual({ value: '23.5', metadata: {} });
    expect(byName.get('mode')!.desired!.value).toBe('heat'); // the manifest's, no twin value given
    expect(byName.get('temperature')!.desired).toEqual({ value: '', metadata: {} });
  });

  it('always sets desired, visitors and visitors.configData (mapper-framework dereferences them)', () => {
    for (const p of pb.spec!.properties!) {
      expect(p.desired).toBeTruthy();
      expect(p.visitors).toBeTruthy();
      expect(p.visitors!.configData).toBeTruthy();
      expect(p.visitors!.configData!.data).toBeTruthy();
    }
  });

  it('packs numbers as FloatValue, strings as StringValue, booleans as BoolValue', () => {
    const data = pb.spec!.protocol!.configData!.data!;
    expect(data.slaveID!.type_url).toMatch(/FloatValue$/);
    expect(data.port!.type_url).toMatch(/StringValue$/);
    const visitor = pb.spec!.properties![0]!.visitors!.configData!.data!;
    expect(visitor.isSwap!.type_url).toMatch(/BoolValue$/);
    expect(unpackValue(visitor.offset!, '/o')).toBe(0);
  });

  it('maps stateReport to status {reportToCloud, reportCycle}', () => {
    const withState: DeviceInstance = { ...thermostat, stateReport: { reportToCloud: true, reportCycle: 5000 } };
    expect(toPbDevice(withState, { nested: false }).status).toEqual({ twins: [], reportToCloud: true, reportCycle: 5000 });
  });

  it("refuses a Device whose configData nests, for a KubeEdge mapper, with a coded error naming each key", () => {
    let err: unknown;
    try {
      toPbDevice(ble, { nested: false });
    } catch (e) {
      err = e;
    }
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_DMI_VALUE')).toBe(true);
    expect((err as { details: Array<{ path: string }> }).details.map((d) => d.path)).toEqual(['/spec/properties/4/visitors/configData/dataWrite']);
  });
});

describe('back on the mapper side, through the manifest checks', () => {
  it('a Device and its model come back as they went', () => {
    const pbModel = toPbDeviceModel(model, 'default');
    expect(pbModel.spec!.properties!.find((p) => p.name === 'temperature')).toMatchObject({ type: 'FLOAT', accessMode: 'ReadOnly', minimum: '-40', maximum: '125', unit: 'Celsius' });
    const back = fromPbDeviceModel(pbModel);
    for (const [name, p] of model.properties) {
      expect(back.properties.get(name)).toMatchObject({ type: p.type, readOnly: p.readOnly, minimum: p.minimum, maximum: p.maximum });
    }
    const { instance, desired } = fromPbDevice(toPbDevice(thermostat, { nested: false }), back);
    // Desired values travel apart (the closed loop applies them); everything else is the manifest's.
    const strip = (d: Omit<DeviceInstance, 'source'>) => ({ ...d, properties: d.properties.map(({ desired: _d, ...p }) => p) });
    expect(strip(withoutSource(instance))).toEqual(strip(withoutSource(thermostat)));
    expect(Object.fromEntries(desired)).toEqual({ setpoint: '21', mode: 'heat', power: 'true' });
  });

  it('nested configData round-trips between edgetwin peers (Struct)', () => {
    const bleModel = fromPbDeviceModel(toPbDeviceModel(models.get('ble-env-sensor')!, 'default'));
    const { instance } = fromPbDevice(toPbDevice(ble, { nested: true }), bleModel);
    expect(instance.properties.find((p) => p.name === 'led')!.visitors!.configData).toEqual(ble.properties.find((p) => p.name === 'led')!.visitors!.configData);
  });

  it('an empty visitors block (a property edgecore has no visitor for) is no visitor', () => {
    const pb = toPbDevice({ ...thermostat, properties: [{ name: 'temperature' }] }, { nested: false });
    expect(pb.spec!.properties![0]!.visitors).toEqual({ protocolName: '', configData: { data: {} } });
    expect(fromPbDevice(pb, model).instance.properties[0]).toEqual({ name: 'temperature' });
  });

  it('refuses a Device without a name or spec, a model it does not match, or a malformed Any, with codes', () => {
    const pb = toPbDevice(thermostat, { nested: false });
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => fromPbDevice({ ...pb, name: '' }, model))).toBe('EDGETWIN_ERR_DMI_REQUEST');
    expect(code(() => fromPbDevice({ ...pb, spec: null }, model))).toBe('EDGETWIN_ERR_DMI_REQUEST');
    expect(code(() => fromPbDevice(pb, models.get('power-meter')!))).toBe('EDGETWIN_ERR_MODEL_UNKNOWN');
    const bad = structuredClone(pb);
    bad.spec!.protocol!.configData!.data!.port = { type_url: 'type.googleapis.com/google.protobuf.Timestamp', value: new Uint8Array() };
    expect(code(() => fromPbDevice(bad, model))).toBe('EDGETWIN_ERR_DMI_VALUE');
    expect(code(() => fromPbDeviceModel({ name: 'm', namespace: 'default', spec: { properties: [{ name: 'x', type: 'COLOUR' }] } }))).toBe('EDGETWIN_ERR_DEVICEMODEL_INVALID');
  });
});
