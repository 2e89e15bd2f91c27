import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isEdgetwinError } from '../errors.js';
import { SCHEMA_ANNOTATION, fromDeviceModel, toDeviceModel } from './devicemodel.js';
import { BUNDLED_MODELS_DIR, compileModel } from './models.js';
import type { JsonSchema } from './types.js';

const bundled = ['thermostat', 'power-meter', 'ble-environmental-sensor'].map(
  (f) => JSON.parse(readFileSync(path.join(BUNDLED_MODELS_DIR, `${f}.json`), 'utf8')) as JsonSchema,
);
const example = parse(readFileSync(path.resolve(import.meta.dirname, '..', 'examples', 'kubeedge', 'temperature-model.yaml'), 'utf8')) as Record<string, unknown>;

describe('JSON Schema model → DeviceModel', () => {
  it('maps every field a DeviceModel holds, field to field', () => {
    const crd = toDeviceModel(bundled[1]!, { namespace: 'plant', protocol: 'modbus' });
    expect(crd.metadata).toMatchObject({ name: 'power-meter', namespace: 'plant' });
    expect(crd.spec.protocol).toBe('modbus');
    expect(crd.spec.properties).toContainEqual({ name: 'energy', description: 'Imported energy since installation', type: 'DOUBLE', accessMode: 'ReadOnly', minimum: '0', unit: 'kWh' });
    expect(crd.spec.properties).toContainEqual({ name: 'relay', description: 'Load relay: true closes the circuit', type: 'BOOLEAN', accessMode: 'ReadWrite' });
    expect(crd.spec.properties).toContainEqual({ name: 'power', description: 'Active power; negative when exporting', type: 'FLOAT', accessMode: 'ReadOnly', minimum: '-50000', maximum: '50000', unit: 'W' });
  });

  it('keeps what a DeviceModel cannot hold (enum, $id, description) in one annotation', () => {
    const crd = toDeviceModel(bundled[0]!);
    const extras = JSON.parse(crd.metadata.annotations![SCHEMA_ANNOTATION]!) as Record<string, unknown>;
    expect(extras).toEqual({ $id: 'urn:edgetwin:model:thermostat', properties: { mode: { enum: ['off', 'heat', 'cool'] } } });
  });

  it.each(bundled.map((m) => [m.title as string, m]))('round trip of %s: to-crd then from-crd gives the model back whole', (_t, model) => {
    const back = fromDeviceModel(JSON.parse(JSON.stringify(toDeviceModel(model))));
    expect(back.schema).toEqual(model);
    expect(back.dropped).toEqual([]);
    expect(() => compileModel(back.schema)).not.toThrow();
  });

  it('bytes and integers round-trip with their implied keywords', () => {
    const model = { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'blob', type: 'object', additionalProperties: false, properties: { raw: { type: 'string', contentEncoding: 'base64', maxLength: 64 }, n: { type: 'integer', minimum: -3, maximum: 7, readOnly: false } } };
    const crd = toDeviceModel(model);
    expect(crd.spec.properties).toEqual([
      { name: 'raw', type: 'BYTES', accessMode: 'ReadWrite' },
      { name: 'n', type: 'INT', accessMode: 'ReadWrite', minimum: '-3', maximum: '7' },
    ]);
    expect(fromDeviceModel(crd).schema).toEqual(model);
  });
});

describe('DeviceModel → JSON Schema model', () => {
  it('converts KubeEdge\'s own example (temperature-sensor-demo) and back without loss', () => {
    const { schema, dropped } = fromDeviceModel(example);
    expect(schema).toEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'temperature-model',
      protocol: 'modbus',
      type: 'object',
      properties: {
        temperature: { type: 'number', description: 'actual temperature', minimum: 0, maximum: 100, unit: 'Celsius' },
        'temperature-switch': { type: 'integer', description: 'the switch of device 0:off,1:on' },
      },
      additionalProperties: false,
    });
    expect(dropped).toEqual([]);
    const model = compileModel(schema);
    expect(model.properties.get('temperature')?.parse('101').ok).toBe(false);
    // Back to a DeviceModel: the same fields, the bounds as numbers ("100.0" and "100" are one value).
    const again = toDeviceModel(schema, { namespace: 'default' });
    expect(again.spec.protocol).toBe('modbus');
    const spec = example.spec as { properties: Array<Record<string, string>> };
    expect(again.spec.properties!.map((p) => ({ ...p, minimum: p.minimum && Number(p.minimum), maximum: p.maximum && Number(p.maximum) }))).toEqual(
      spec.properties.map((p) => ({ ...p, minimum: p.minimum && Number(p.minimum), maximum: p.maximum && Number(p.maximum) })),
    );
    expect(again.metadata).toEqual({ name: 'temperature-model', namespace: 'default' });
  });

  it('the cluster\'s fields win over the annotation (a maximum edited with kubectl)', () => {
    const crd = toDeviceModel(bundled[0]!);
    crd.spec.properties!.find((p) => p.name === 'setpoint')!.maximum = '30';
    crd.spec.properties!.find((p) => p.name === 'mode')!.type = 'STRING';
    const { schema } = fromDeviceModel(crd);
    expect((schema.properties as Record<string, JsonSchema>).setpoint).toEqual({ type: 'number', minimum: 5, maximum: 30, unit: 'Celsius' });
    expect((schema.properties as Record<string, JsonSchema>).mode).toEqual({ type: 'string', enum: ['off', 'heat', 'cool'] });
  });

  it('drops STREAM properties and says so', () => {
    const { schema, dropped } = fromDeviceModel({
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'DeviceModel',
      metadata: { name: 'cam' },
      spec: { properties: [{ name: 'saveFrame', type: 'STREAM' }, { name: 'on', type: 'BOOLEAN' }] },
    });
    expect(Object.keys(schema.properties as object)).toEqual(['on']);
    expect(dropped.map((d) => d.path)).toEqual(['/spec/properties/0']);
  });

  it('keeps KubeEdge ≥ 1.22 protocol defaults (protocolConfigData, visitors) in the model, and back', () => {
    const crd = {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'DeviceModel',
      metadata: { name: 'meter' },
      spec: {
        protocol: 'modbus',
        protocolConfigData: { communicateMode: 'TCP', port: '502', slaveID: 3 },
        properties: [{ name: 'power', type: 'FLOAT', accessMode: 'ReadOnly', visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 4, limit: 2 } } }],
      },
    };
    const { schema, dropped } = fromDeviceModel(crd);
    expect(dropped).toEqual([]);
    expect(schema).toMatchObject({ protocol: 'modbus', protocolConfigData: { communicateMode: 'TCP', port: '502', slaveID: 3 } });
    expect((schema.properties as Record<string, JsonSchema>).power).toEqual({ type: 'number', readOnly: true, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 4, limit: 2 } } });
    const model = compileModel(schema);
    expect(model.defaults?.protocolConfigData).toEqual({ communicateMode: 'TCP', port: '502', slaveID: 3 });
    expect(model.defaults?.visitors.get('power')).toEqual({ protocolName: 'modbus', configData: { register: 'InputRegister', offset: 4, limit: 2 } });
    expect(toDeviceModel(schema).spec).toEqual(crd.spec);
  });

  it('refuses nested protocolConfigData (KubeEdge\'s DMI cannot carry it)', () => {
    const { schema } = fromDeviceModel({ kind: 'DeviceModel', metadata: { name: 'x' }, spec: { protocolConfigData: { tcp: { ip: 'a' } }, properties: [] } });
    expect(() => compileModel(schema)).toThrow(/protocolConfigData/);
  });

  it('rejects what cannot be converted with every problem listed', () => {
    try {
      fromDeviceModel({ kind: 'DeviceModel', metadata: { name: 'bad' }, spec: { properties: [{ name: 'a b', type: 'INT' }, { name: 'x', type: 'LONG' }, { name: 'y', type: 'INT', minimum: 'low' }] } });
      expect.unreachable();
    } catch (err) {
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_DEVICEMODEL_INVALID')).toBe(true);
      if (isEdgetwinError(err)) expect(err.details.map((d) => d.path)).toEqual(['/spec/properties/0/name', '/spec/properties/1/type', '/spec/properties/2/minimum']);
    }
    expect(() => fromDeviceModel({ kind: 'Device', metadata: { name: 'x' } })).toThrow(/must be a DeviceModel/);
  });
});
