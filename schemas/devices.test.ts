import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEdgetwinError, type EdgetwinError } from '../errors.js';
import { loadDevices, parseDeviceManifest } from './devices.js';
import { compileModel } from './models.js';
import type { DeviceModel } from './types.js';

const thermostat = compileModel({
  title: 'thermostat',
  type: 'object',
  properties: {
    temperature: { type: 'number', minimum: -40, maximum: 125, readOnly: true },
    setpoint: { type: 'number', minimum: 5, maximum: 35 },
    mode: { type: 'string', enum: ['off', 'heat', 'cool'] },
    power: { type: 'boolean' },
  },
});
const models: ReadonlyMap<string, DeviceModel> = new Map([['thermostat', thermostat]]);

/** A manifest as plain JSON the tests may break in any way. */
interface EditableProperty {
  name: string;
  desired?: { value: unknown; metadata?: Record<string, string> };
  [key: string]: unknown;
}
interface EditableManifest {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown };
  spec: {
    deviceModelRef?: { name: string };
    protocol?: { protocolName: string; configData: Record<string, unknown> };
    properties?: EditableProperty[];
    [key: string]: unknown;
  };
  status?: unknown;
}

/** The i-th property of a manifest being edited. */
function prop(m: EditableManifest, i: number): EditableProperty {
  const p = m.spec.properties?.[i];
  if (!p) throw new Error(`no property ${i}`);
  return p;
}

/** A valid manifest; `edit` changes a fresh copy. */
function manifest(edit: (m: EditableManifest) => void = () => {}): EditableManifest {
  const m: EditableManifest = {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name: 'thermostat-1', labels: { room: 'kitchen' } },
    spec: {
      deviceModelRef: { name: 'thermostat' },
      nodeName: 'edge-1',
      protocol: { protocolName: 'modbus', configData: { communicateMode: 'TCP', ip: '127.0.0.1', port: '1502', slaveID: 1 } },
      properties: [
        { name: 'temperature', collectCycle: 1000, reportCycle: 0, reportToCloud: true, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0 } } },
        { name: 'setpoint', desired: { value: '21', metadata: { type: 'float' } } },
      ],
    },
  };
  edit(m);
  return m;
}

function parseError(obj: unknown): EdgetwinError {
  try {
    parseDeviceManifest(obj, models, 'devices/t.yaml', 2);
  } catch (err) {
    if (isEdgetwinError(err)) return err;
    throw err;
  }
  throw new Error('expected parseDeviceManifest to throw');
}

describe('parseDeviceManifest', () => {
  it('maps a v1beta1 Device to a DeviceInstance', () => {
    const device = parseDeviceManifest(manifest(), models, 'devices/t.yaml');
    expect(device).toEqual({
      namespace: 'default',
      name: 'thermostat-1',
      id: 'default/thermostat-1',
      model: 'thermostat',
      nodeName: 'edge-1',
      labels: { room: 'kitchen' },
      protocol: { protocolName: 'modbus', configData: { communicateMode: 'TCP', ip: '127.0.0.1', port: '1502', slaveID: 1 } },
      properties: [
        { name: 'temperature', collectCycle: 1000, reportCycle: 0, reportToCloud: true, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0 } } },
        { name: 'setpoint', desired: { value: '21', metadata: { type: 'float' } } },
      ],
      source: 'devices/t.yaml',
    });
  });

  it('takes the namespace and the description from metadata', () => {
    const device = parseDeviceManifest(
      manifest((m) => {
        m.metadata.namespace = 'plant-a';
        m.metadata.annotations = { description: 'Kitchen thermostat' };
      }),
      models,
    );
    expect(device).toMatchObject({ id: 'plant-a/thermostat-1', description: 'Kitchen thermostat' });
    expect(parseDeviceManifest(manifest((m) => (m.metadata.labels.description = 'from-label')), models).description).toBe('from-label');
  });

  it('accepts an object read back from a cluster (status, metadata extras, methods, pushMethod)', () => {
    const device = parseDeviceManifest(
      manifest((m) => {
        Object.assign(m.metadata, { uid: 'abc', resourceVersion: '42', managedFields: [{}] });
        m.spec.methods = [{ name: 'SwitchControl', propertyNames: ['power'] }];
        m.spec.stateReport = { reportToCloud: true, reportCycle: 10000 };
        prop(m, 0).pushMethod = { mqtt: { topic: 't' } };
        m.status = { twins: [] };
      }),
      models,
    );
    expect(device.id).toBe('default/thermostat-1');
  });

  it('treats an empty desired value as none (Go clients write `desired: {value: ""}` everywhere)', () => {
    const device = parseDeviceManifest(manifest((m) => (prop(m, 0).desired = { value: '' })), models);
    expect(device.properties[0]).not.toHaveProperty('desired');
  });

  it('accepts a device without protocol or properties (a twin driven over MQTT)', () => {
    const device = parseDeviceManifest(manifest((m) => {
        delete m.spec.protocol;
        delete m.spec.properties;
      }), models);
    expect(device).toMatchObject({ properties: [] });
    const bare = parseDeviceManifest(
      { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'x' }, spec: { deviceModelRef: { name: 'thermostat' } } },
      models,
    );
    expect(bare).toEqual({ namespace: 'default', name: 'x', id: 'default/x', model: 'thermostat', properties: [] });
  });

  // Each row: an edit that breaks the manifest, the code, and a pointer the error must name.
  const rejections: ReadonlyArray<[string, (m: EditableManifest) => void, string, string]> = [
    ['v1alpha2', (m) => (m.apiVersion = 'devices.kubeedge.io/v1alpha2'), 'EDGETWIN_ERR_MANIFEST_INVALID', '/apiVersion'],
    ['no kind', (m) => delete m.kind, 'EDGETWIN_ERR_MANIFEST_INVALID', '/kind'],
    ['bad name', (m) => (m.metadata.name = 'Thermostat_1'), 'EDGETWIN_ERR_MANIFEST_INVALID', '/metadata/name'],
    ['bad namespace', (m) => (m.metadata.namespace = 'a.b'), 'EDGETWIN_ERR_MANIFEST_INVALID', '/metadata/namespace'],
    ['no model ref', (m) => delete m.spec.deviceModelRef, 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/deviceModelRef'],
    ['v1alpha2 nodeSelector', (m) => (m.spec.nodeSelector = {}), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/nodeSelector'],
    ['nested protocol configData', (m) => (m.spec.protocol!.configData.serial = { baud: 9600 }), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/protocol/configData/serial'],
    ['negative cycle', (m) => (prop(m, 0).collectCycle = -1), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/0/collectCycle'],
    ['fractional cycle', (m) => (prop(m, 0).reportCycle = 1.5), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/0/reportCycle'],
    ['desired value not a string', (m) => (prop(m, 1).desired!.value = 21), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/1/desired/value'],
    ['typo in a property key', (m) => (prop(m, 1).colectCycle = 5), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/1/colectCycle'],
    ['unknown model', (m) => (m.spec.deviceModelRef!.name = 'boiler'), 'EDGETWIN_ERR_MODEL_UNKNOWN', '/spec/deviceModelRef/name'],
    ['unknown property', (m) => (prop(m, 1).name = 'humidity'), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/1/name'],
    ['property listed twice', (m) => (prop(m, 1).name = 'temperature'), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/1/name'],
    ['desired on a readOnly property', (m) => (prop(m, 0).desired = { value: '20' }), 'EDGETWIN_ERR_MANIFEST_INVALID', '/spec/properties/0/desired/value'],
    ['desired not a number', (m) => (prop(m, 1).desired!.value = 'warm'), 'EDGETWIN_ERR_VALUE_TYPE', '/spec/properties/1/desired/value'],
    ['desired out of range', (m) => (prop(m, 1).desired!.value = '40'), 'EDGETWIN_ERR_MODEL_VALIDATION', '/spec/properties/1/desired/value'],
  ];

  it.each(rejections)('rejects %s', (_label, edit, code, pointer) => {
    const err = parseError(manifest(edit));
    expect(err.code).toBe(code);
    expect(err.message).toContain('devices/t.yaml (document 2)');
    expect(err.message).toContain(pointer);
    expect(err.details.map((d) => d.path)).toContain(pointer);
  });

  // Each row: a typo, where it is, and the suggestion the message must carry.
  it.each<[string, (m: EditableManifest) => void, string, string]>([
    ['a model name', (m) => (m.spec.deviceModelRef!.name = 'thermostst'), '/spec/deviceModelRef/name', 'model "thermostst" is not loaded; did you mean "thermostat"?'],
    ['a property name', (m) => (prop(m, 1).name = 'setpiont'), '/spec/properties/1/name', 'property "setpiont" is not in model "thermostat"; did you mean "setpoint"?'],
    ['a property key', (m) => (prop(m, 1).colectCycle = 5), '/spec/properties/1/colectCycle', 'is not an allowed key; did you mean "collectCycle"?'],
    ['a spec key', (m) => (m.spec.protocl = {}), '/spec/protocl', 'is not an allowed key; did you mean "protocol"?'],
  ])('suggests the name meant for a typo in %s', (_label, edit, pointer, message) => {
    const err = parseError(manifest(edit));
    expect(err.details.find((d) => d.path === pointer)?.message).toBe(message);
    expect(err.message).toContain(message);
  });

  it('suggests nothing for a name close to none', () => {
    expect(parseError(manifest((m) => (m.spec.deviceModelRef!.name = 'boiler'))).message).not.toContain('did you mean');
  });

  it('explains why v1alpha2 is rejected', () => {
    expect(parseError(manifest((m) => (m.apiVersion = 'devices.kubeedge.io/v1alpha2'))).message).toMatch(/rewrite it as v1beta1/);
  });

  it('lists every property problem, with each detail carrying its own code', () => {
    const err = parseError(
      manifest((m) => {
        prop(m, 0).desired = { value: '20' };
        prop(m, 1).desired!.value = '40';
        m.spec.properties?.push({ name: 'nope' });
      }),
    );
    expect(err.code).toBe('EDGETWIN_ERR_MANIFEST_INVALID');
    expect(err.details.map((d) => [d.path, d.code])).toEqual([
      ['/spec/properties/0/desired/value', 'EDGETWIN_ERR_PROPERTY_READ_ONLY'],
      ['/spec/properties/1/desired/value', 'EDGETWIN_ERR_MODEL_VALIDATION'],
      ['/spec/properties/2/name', 'EDGETWIN_ERR_PROPERTY_UNKNOWN'],
    ]);
  });

  it('rejects things that are not objects', () => {
    for (const obj of [null, 'Device', [], 42]) expect(parseError(obj).code).toBe('EDGETWIN_ERR_MANIFEST_INVALID');
  });
});

describe('loadDevices', () => {
  const root = mkdtempSync(join(tmpdir(), 'edgetwin-devices-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const yaml = (name: string, extra = ''): string =>
    `apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata:\n  name: ${name}\nspec:\n  deviceModelRef:\n    name: thermostat\n${extra}`;
  const dir = join(root, 'devices');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'a.yaml'),
    [
      yaml('good-1'),
      yaml('bad-model').replace('name: thermostat', 'name: boiler'),
      'apiVersion: devices.kubeedge.io/v1beta1\nkind: DeviceModel\nmetadata:\n  name: thermostat\n',
      yaml('good-2', '  properties:\n    - name: setpoint\n      desired:\n        value: "22.5"\n'),
      yaml('read-only', '  properties:\n    - name: temperature\n      desired:\n        value: "20"\n'),
      '',
      yaml('good-1'),
    ].join('---\n'),
  );
  writeFileSync(join(dir, 'b.yml'), yaml('bad-shape', '  nodeSelector: {}\n') + '---\n' + yaml('good-3', '  properties:\n    - name: humidity\n') + '---\n' + yaml('good-4'));
  writeFileSync(join(dir, 'c.yaml'), `${yaml('good-5')}---\nmetadata: [unclosed\n`);
  writeFileSync(join(dir, 'd.json'), JSON.stringify({ apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'from-json' }, spec: { deviceModelRef: { name: 'thermostat' } } }));
  writeFileSync(join(dir, 'empty.yaml'), '# nothing here\n');
  writeFileSync(join(dir, 'README.md'), '# not a manifest');

  it('loads every good document and reports each bad one, naming file, document and pointer', () => {
    const { devices, errors } = loadDevices([dir, join(root, 'missing')], models);
    expect(devices.map((d) => d.name)).toEqual(['good-1', 'good-2', 'good-4', 'good-5', 'from-json']);
    expect(devices[1]?.properties[0]?.desired?.value).toBe('22.5');
    expect(devices[0]?.source).toBe(join(dir, 'a.yaml'));
    const summary = errors.map((e) => [e.code, /\(document (\d+)\)/.exec(e.message)?.[1]]);
    expect(summary).toEqual([
      ['EDGETWIN_ERR_FILE_READ', undefined],
      ['EDGETWIN_ERR_MODEL_UNKNOWN', '1'],
      ['EDGETWIN_ERR_MANIFEST_INVALID', '4'], // readOnly desired
      ['EDGETWIN_ERR_DEVICE_DUPLICATE', '6'],
      ['EDGETWIN_ERR_MANIFEST_INVALID', '0'], // nodeSelector
      ['EDGETWIN_ERR_MANIFEST_INVALID', '1'], // unknown property
      ['EDGETWIN_ERR_MANIFEST_INVALID', '1'], // YAML syntax
    ]);
    expect(errors[1]?.message).toContain(join(dir, 'a.yaml'));
    expect(errors[2]?.message).toContain('/spec/properties/0/desired/value');
    expect(errors[3]?.message).toContain('default/good-1');
    expect(errors[4]?.message).toContain('/spec/nodeSelector');
    expect(errors[5]?.message).toContain('/spec/properties/0/name');
    expect(errors[6]?.message).toContain('not valid YAML');
  });

  it('loads a single file named explicitly', () => {
    const { devices, errors } = loadDevices([join(dir, 'd.json')], models);
    expect({ names: devices.map((d) => d.name), errors }).toEqual({ names: ['from-json'], errors: [] });
  });
});

describe('DeviceModel defaults (KubeEdge ≥ 1.22 overrideDeviceInstanceConfig)', () => {
  const withDefaults = compileModel({
    title: 'meter',
    protocol: 'modbus',
    protocolConfigData: { communicateMode: 'TCP', port: '502', slaveID: 3, timeout: 500 },
    type: 'object',
    properties: {
      power: { type: 'number', readOnly: true, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 4, limit: 2, scale: 0.1 } } },
      relay: { type: 'boolean', visitors: { configData: { register: 'CoilRegister', offset: 0 } } },
      spare: { type: 'integer', visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 9 } } },
    },
  });
  const meterModels = new Map([['meter', withDefaults]]);
  const device = (spec: Record<string, unknown>): unknown => ({
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name: 'm1' },
    spec: { deviceModelRef: { name: 'meter' }, ...spec },
  });

  it('merges protocolConfigData and visitors key by key, the Device winning', () => {
    const d = parseDeviceManifest(
      device({
        protocol: { protocolName: 'modbus', configData: { ip: '10.0.0.7', slaveID: 9 } },
        properties: [{ name: 'power', visitors: { protocolName: 'modbus', configData: { offset: 6 } } }, { name: 'relay' }],
      }),
      meterModels,
    );
    expect(d.protocol).toEqual({ protocolName: 'modbus', configData: { communicateMode: 'TCP', port: '502', slaveID: 9, timeout: 500, ip: '10.0.0.7' } });
    expect(d.properties).toEqual([
      { name: 'power', visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 6, limit: 2, scale: 0.1 } } },
      // The model's visitor names no protocol: the Device's protocol is its protocol.
      { name: 'relay', visitors: { protocolName: 'modbus', configData: { register: 'CoilRegister', offset: 0 } } },
    ]);
  });

  it('gives nothing to model properties the Device does not list, and no protocol to a Device without one', () => {
    const d = parseDeviceManifest(device({ properties: [{ name: 'power' }] }), meterModels);
    expect(d.protocol).toBeUndefined();
    expect(d.properties.map((p) => p.name)).toEqual(['power']);
    expect(d.properties[0]?.visitors?.configData).toEqual({ register: 'InputRegister', offset: 4, limit: 2, scale: 0.1 });
  });

  it('leaves a Device of a model without defaults as it is', () => {
    const m = manifest();
    expect(parseDeviceManifest(m, models).protocol?.configData).toEqual(m.spec.protocol?.configData);
  });
});

describe('Device fields edgetwin does not implement are never silently ignored', () => {
  it('warns, with a code and the field\'s path, for anomalyDetection, methods, stateReport', () => {
    const d = parseDeviceManifest(
      manifest((m) => {
        prop(m, 0).pushMethod = { anomalyDetection: {} };
        m.spec.methods = [{ name: 'SwitchControl', propertyNames: ['power'] }];
        m.spec.stateReport = { reportToCloud: true, reportCycle: 10000 };
      }),
      models,
    );
    expect(d.warnings?.map((w) => [w.code, w.path])).toEqual([
      ['EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED', '/spec/properties/0/pushMethod/anomalyDetection'],
      ['EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED', '/spec/methods'],
      ['EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED', '/spec/stateReport'],
    ]);
  });

  it('loads the push and database methods it serves without a warning, with the CRD\'s keys', () => {
    const d = parseDeviceManifest(
      manifest((m) => {
        prop(m, 0).pushMethod = {
          mqtt: { address: 'tcp://127.0.0.1:1883', topic: 't', qos: 1, retained: false },
          http: { hostName: 'http://127.0.0.1', port: 8080, requestPath: '/v', timeout: 1000 },
          dbMethod: {
            influxdb2: { influxdb2ClientConfig: { url: 'http://127.0.0.1:8086', org: 'o', bucket: 'b' }, influxdb2DataConfig: { measurement: 'm', tag: { a: 'b' }, fieldKey: 'f' } },
            redis: { redisClientConfig: { addr: '127.0.0.1:6379', db: 0, poolsize: 10, minIdleConns: 1 } },
            mysql: { mysqlClientConfig: { addr: '127.0.0.1:3306', database: 'kubeedge', userName: 'root' } },
          },
        };
      }),
      models,
    );
    expect(d.warnings).toBeUndefined();
    const push = d.properties[0]?.pushMethod;
    expect(push?.mqtt?.qos).toBe(1);
    expect(push?.http?.port).toBe(8080);
    expect(Object.keys(push?.dbMethod ?? {}).sort()).toEqual(['influxdb2', 'mysql', 'redis']);
  });

  it('refuses an unknown method, TDEngine, otel and a bad setting with their codes; the device still loads', () => {
    const d = parseDeviceManifest(
      manifest((m) => {
        prop(m, 0).pushMethod = {
          kafka: { brokers: 'x' },
          otel: { endpointURL: 'http://127.0.0.1:4318/v1/metrics' },
          mqtt: { address: 'tcp://127.0.0.1:1883', topic: 't', qos: 7 },
          dbMethod: { TDEngine: { TDEngineClientConfig: { addr: '127.0.0.1:6041', dbName: 'x' } }, cassandra: {}, redis: { redisClientConfig: { addr: '127.0.0.1:6379' } } },
        };
      }),
      models,
    );
    expect(d.warnings?.map((w) => [w.code, w.path])).toEqual([
      ['EDGETWIN_ERR_SINK_UNKNOWN', '/spec/properties/0/pushMethod/kafka'],
      ['EDGETWIN_ERR_SINK_UNSUPPORTED', '/spec/properties/0/pushMethod/otel'],
      ['EDGETWIN_ERR_SINK_CONFIG', '/spec/properties/0/pushMethod/mqtt/qos'],
      ['EDGETWIN_ERR_SINK_UNSUPPORTED', '/spec/properties/0/pushMethod/dbMethod/TDEngine'],
      ['EDGETWIN_ERR_SINK_UNKNOWN', '/spec/properties/0/pushMethod/dbMethod/cassandra'],
    ]);
    // What is good of it is still served.
    expect(d.properties[0]?.pushMethod).toEqual({ dbMethod: { redis: { redisClientConfig: { addr: '127.0.0.1:6379' } } } });
  });

  it('a Device without them has no warnings', () => {
    expect(parseDeviceManifest(manifest(), models).warnings).toBeUndefined();
  });
});
