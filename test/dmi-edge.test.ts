// edgetwin as edgecore (item 1 and 2 of DMI): a real EdgeCore serving DeviceManagerService on a
// unix socket, a mapper-framework-like client registering and reporting over real gRPC, and a
// recording DeviceMapperService that sees what edgetwin sends it.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackValue, type PbDevice } from '../dmi/index.js';
import { eventually, within } from './async.js';
import { grpc, leaveStaleSocket, ManagerClient, RecordingMapper, refusal, twin } from './dmi-fixtures.js';
import { startEdge, tempDir, TestClient, type TestEdge } from './helpers.js';

const manifest = (name: string, protocol = 'acme', extra = ''): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: ${name}
  namespace: default
spec:
  deviceModelRef:
    name: thermostat
  protocol:
    protocolName: ${protocol}
    configData:
      ip: 127.0.0.1
      port: "1502"
      slaveID: 1
  stateReport:
    reportToCloud: true
    reportCycle: 2000
  properties:
    - name: temperature
      collectCycle: 1000
      reportToCloud: true
      visitors:
        protocolName: ${protocol}
        configData: { register: InputRegister, offset: 0, scale: 0.1 }
    - name: setpoint
      desired:
        value: "21"
      reportToCloud: true
      visitors:
        protocolName: ${protocol}
        configData: { register: HoldingRegister, offset: 2, isSwap: false }
${extra}`;

const nested = `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: nested
  namespace: default
spec:
  deviceModelRef:
    name: thermostat
  protocol:
    protocolName: acme
  properties:
    - name: power
      visitors:
        protocolName: acme
        configData:
          dataWrite: { "true": [1], "false": [0] }
`;

describe('edgetwin serves DeviceManagerService (dmi.socket)', () => {
  const tmp = tempDir('edgetwin-dmi-');
  const sock = (n: string): string => path.join(tmp.dir, n);
  let edge: TestEdge;
  let client: ManagerClient;
  let mapper: RecordingMapper;
  let mqtt: TestClient;
  const config = () => ({ dmi: { socket: sock('dmi.sock'), registerGraceMs: 2000 }, mappers: { enabled: [] as Array<'modbus'> }, metrics: { port: 0 } });

  beforeAll(async () => {
    edge = await startEdge({ 'a.yaml': manifest('t1'), 'b.yaml': manifest('t2'), 'c.yaml': manifest('other', 'other-proto'), 'd.yaml': nested, 'e.yaml': manifest('t3') }, config(), tmp.dir);
    client = new ManagerClient(sock('dmi.sock'));
    mapper = new RecordingMapper(sock('acme.sock'));
    await mapper.start();
    mqtt = await TestClient.connect(edge.url);
  });

  afterAll(async () => {
    client?.close();
    await mqtt?.close();
    await mapper?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  it('MapperRegister answers at once with the Devices and models of the protocol, as edgecore sends them', async () => {
    const started = performance.now();
    const res = await client.register('acme', sock('acme.sock'));
    // mapper-framework gives MapperRegister 1 s. The answer waits on nothing slow (the
    // registration waits at most 500 ms for the disk), so it is prompt on any machine; the bound here
    // only catches a hang, since a loaded CI machine may take seconds to schedule anything.
    expect(performance.now() - started).toBeLessThan(10_000);
    const names = (res.deviceList ?? []).map((d) => d.name).sort();
    // `other` is another protocol's; `nested` cannot travel to a KubeEdge mapper (coded, logged, counted).
    expect(names).toEqual(['t1', 't2', 't3']);
    expect(res.modelList).toHaveLength(1);
    expect(res.modelList![0]).toMatchObject({ name: 'thermostat', namespace: 'default' });
    expect(res.modelList![0]!.spec!.properties!.find((p) => p.name === 'temperature')).toMatchObject({ type: 'FLOAT', accessMode: 'ReadOnly' });
    const t1 = res.deviceList!.find((d) => d.name === 't1')!;
    expect(t1.status).toMatchObject({ reportToCloud: true, reportCycle: 2000 });
    const setpoint = t1.spec!.properties!.find((p) => p.name === 'setpoint')!;
    expect(setpoint.desired!.value).toBe('21');
    expect(setpoint.visitors!.configData!.data!.offset!.type_url).toMatch(/FloatValue$/);
    expect(unpackValue(t1.spec!.protocol!.configData!.data!.slaveID!, '/s')).toBe(1);
    const temperature = t1.spec!.properties!.find((p) => p.name === 'temperature')!;
    expect(temperature.desired).toEqual({ value: '', metadata: {} });
    expect(unpackValue(temperature.visitors!.configData!.data!.scale!, '/s')).toBe(0.1);
  });

  it('ReportDeviceStatus becomes the twin: reported → actual, answered after the commit', async () => {
    await client.report('default', 't1', [twin('temperature', '22.5')]);
    expect(edge.core.twin.get('default/t1')!.twins.temperature!.actual!.value).toBe('22.5');
  });

  it("a mapper's observedDesired equal to the twin's desired value and a matching reading close the loop", async () => {
    await client.report('default', 't1', [twin('setpoint', '21', '21')]);
    const t = edge.core.twin.get('default/t1')!.twins.setpoint!;
    expect(t.actual!.value).toBe('21');
    expect(t.ack?.state).toBe('applied');
  });

  it('observedDesired becomes the desired value only where the twin has none: an older one never undoes a newer', async () => {
    await client.report('default', 't1', [twin('mode', 'cool', 'cool')]);
    expect(edge.core.twin.get('default/t1')!.twins.mode).toMatchObject({ expected: { value: 'cool' }, actual: { value: 'cool' } });
    // The twin's desired setpoint is 21; a mapper still working to 20 reports it, and 21 stays.
    await client.report('default', 't1', [twin('setpoint', '20', '20')]);
    expect(edge.core.twin.get('default/t1')!.twins.setpoint).toMatchObject({ expected: { value: '21' }, actual: { value: '20' } });
    await client.report('default', 't1', [twin('setpoint', '21', '21')]);
  });

  it('bad reports get a gRPC status with a coded message and change nothing', async () => {
    const before = structuredClone(edge.core.twin.get('default/t1'));
    const cases: Array<[Promise<unknown>, number, string]> = [
      [client.report('default', 'nope', [twin('temperature', '1')]), grpc.status.NOT_FOUND, 'EDGETWIN_ERR_DEVICE_NOT_FOUND'],
      [client.report('default', 't1', [twin('temperature', 'warm')]), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_VALUE_TYPE'],
      [client.report('default', 't1', [twin('temperature', '500')]), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_MODEL_VALIDATION'],
      // All or nothing: one good twin and one unknown property change nothing.
      [client.report('default', 't1', [twin('temperature', '23'), twin('colour', 'red')]), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_PROPERTY_UNKNOWN'],
      [client.report('default', 't1', []), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.report('default', 't1', [{ propertyName: 'temperature' }]), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.raw('ReportDeviceStatus', { deviceName: '' }), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.report('default', 't1', [twin('temperature', '24', '30')]), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_PROPERTY_READ_ONLY'],
      [client.states('default', 't1', 'sleepy'), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_STATE_INVALID'],
      [client.states('default', 'nope', 'ok'), grpc.status.NOT_FOUND, 'EDGETWIN_ERR_DEVICE_NOT_FOUND'],
      [client.states('default', 't1', ''), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.raw('MapperRegister', { withData: true }), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.register('', sock('x.sock')), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.register('acme2', 'relative.sock'), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
      [client.register('acme2', `/tmp/${'x'.repeat(120)}.sock`), grpc.status.INVALID_ARGUMENT, 'EDGETWIN_ERR_DMI_REQUEST'],
    ];
    for (const [call, code, errorCode] of cases) {
      const r = await refusal(call);
      expect(r.code, r.details).toBe(code);
      expect(r.details).toMatch(new RegExp(`^${errorCode}: `));
    }
    const after = edge.core.twin.get('default/t1');
    expect(after!.twins).toEqual(before!.twins);
    expect(after!.version).toBe(before!.version);
  });

  it('ReportDeviceStates becomes the device state, with lastOnlineTime', async () => {
    await client.states('default', 't1', 'OK');
    const s = edge.core.twin.get('default/t1')!;
    expect(s.state).toBe('ok');
    expect(s.lastOnline).toMatch(/^\d{4}-\d\d-\d\dT/);
    // KubeEdge drops `disconnected` silently: so does edgetwin, without an error.
    await client.states('default', 't1', 'disconnected');
    expect(edge.core.twin.get('default/t1')!.state).toBe('ok');
  });

  it('a desired value set over MQTT reaches the mapper as UpdateDevice with the whole Device (coalesced, latest wins)', async () => {
    const from = mapper.calls.length;
    await mqtt.publish('$hw/events/device/default/t2/twin/update', { event_id: 'a', timestamp: Date.now(), twin: { setpoint: { expected: { value: '18' } } } });
    await mqtt.publish('$hw/events/device/default/t2/twin/update', { event_id: 'b', timestamp: Date.now(), twin: { setpoint: { expected: { value: '19.5' } } } });
    const desiredOf = (c: { request: Record<string, unknown> }, p: string) => (c.request.device as PbDevice).spec!.properties!.find((x) => x.name === p)!.desired!.value;
    const update = await mapper.next((c) => c.method === 'UpdateDevice' && (c.request.device as PbDevice).name === 't2' && desiredOf(c, 'setpoint') === '19.5', 10_000, from);
    const device = update.request.device as PbDevice;
    expect(device.spec!.properties!.map((p) => p.name)).toEqual(['temperature', 'setpoint']);
    expect(device.spec!.properties!.every((p) => p.visitors && p.visitors.configData)).toBe(true);
    // Mappers before KubeEdge 1.21 need the model again before the first UpdateDevice (docs/dmi.md).
    expect(mapper.calls.slice(from).findIndex((c) => c.method === 'CreateDeviceModel')).toBeLessThan(mapper.calls.slice(from).indexOf(update));
    // Reported values alone never cause an UpdateDevice.
    const count = mapper.calls.filter((c) => c.method === 'UpdateDevice').length;
    await client.report('default', 't2', [twin('temperature', '20')]);
    await client.report('default', 't2', [twin('setpoint', '19.5', '19.5')]);
    await mqtt.publish('$hw/events/device/default/t2/twin/update', { event_id: 'c', timestamp: Date.now(), twin: { setpoint: { expected: { value: '20' } } } });
    await mapper.next((c) => c.method === 'UpdateDevice' && desiredOf(c, 'setpoint') === '20', 10_000, from);
    expect(mapper.calls.filter((c) => c.method === 'UpdateDevice').length).toBe(count + 1);
  });

  it('a protocol edgetwin runs in-process cannot be taken by a DMI mapper', async () => {
    const other = await startEdge({}, { dmi: { socket: sock('dmi2.sock') }, mappers: { enabled: ['modbus'] } });
    const c = new ManagerClient(sock('dmi2.sock'));
    try {
      const r = await refusal(c.register('modbus', sock('modbus.sock')));
      expect(r.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(r.details).toMatch(/^EDGETWIN_ERR_DMI_PROTOCOL_IN_PROCESS: /);
    } finally {
      c.close();
      await other.stop();
    }
  });

  it('metrics and /readyz show the mapper, its devices, calls and refusals', async () => {
    const text = await (await fetch(`${edge.core.metricsUrl!}/metrics`)).text();
    expect(text).toMatch(/edgetwin_dmi_mapper_up\{protocol="acme"\} 1/);
    expect(text).toMatch(/edgetwin_dmi_devices\{protocol="acme"\} 3/);
    expect(text).toMatch(/edgetwin_dmi_calls_total\{protocol="acme",method="UpdateDevice",status="OK"\} [1-9]/);
    expect(text).toMatch(/edgetwin_dmi_requests_total\{method="ReportDeviceStatus",code="EDGETWIN_ERR_DEVICE_NOT_FOUND"\} 1/);
    expect(text).toMatch(/edgetwin_dmi_devices_refused_total\{protocol="acme",code="EDGETWIN_ERR_DMI_VALUE"\} [1-9]/);
    expect(text).toMatch(/edgetwin_dmi_request_duration_seconds_count\{method="MapperRegister"\} [1-9]/);
    const ready = (await (await fetch(`${edge.core.metricsUrl!}/readyz`)).json()) as { checks: Record<string, { ok: boolean; detail: string }> };
    expect(ready.checks.dmi).toEqual({ ok: true, detail: `${sock('dmi.sock')}, 1 mappers (1 reachable)` });
  });

  it('a mapper that goes away marks its devices offline; back, they are unknown until it reports', async () => {
    await mapper.stop();
    await eventually(async () => (['t1', 't2', 't3'].every((n) => edge.core.twin.get(`default/${n}`)!.state === 'offline') ? true : undefined), 20_000);
    mapper = new RecordingMapper(sock('acme.sock'));
    await mapper.start();
    await eventually(async () => (edge.core.twin.get('default/t1')!.state === 'unknown' ? true : undefined), 20_000);
  });

  it('keeps the registration across a restart: reconciled with GetDevice, told what changed meanwhile, given new desired values', async () => {
    await edge.stop();
    mapper.devices.set('default/t1', { name: 't1', namespace: 'default', status: { twins: [twin('temperature', '19.25', ''), twin('setpoint', '20', '20')] } });
    // t2 is unknown to the mapper now (as if it restarted without its devices): it is registered again.
    const from = mapper.calls.length;
    // Meanwhile t3's manifest was removed and t1's changed (a slower collectCycle).
    mapper.devices.set('default/t3', { name: 't3', namespace: 'default', status: { twins: [] } });
    const t1Changed = manifest('t1').replace('collectCycle: 1000', 'collectCycle: 2500');
    edge = await startEdge({ 'a.yaml': t1Changed, 'b.yaml': manifest('t2'), 'c.yaml': manifest('other', 'other-proto'), 'd.yaml': nested }, config(), tmp.dir);
    await mapper.next((c) => c.method === 'GetDevice' && c.request.deviceName === 't1', 10_000, from);
    await mapper.next((c) => c.method === 'RegisterDevice' && (c.request.device as PbDevice).name === 't2', 10_000, from);
    await mapper.next((c) => c.method === 'RemoveDevice' && c.request.deviceName === 't3', 10_000, from);
    const changed = await mapper.next((c) => c.method === 'UpdateDevice' && (c.request.device as PbDevice).name === 't1', 10_000, from);
    expect((changed.request.device as PbDevice).spec!.properties!.find((p) => p.name === 'temperature')!.collectCycle).toBe(2500);
    // The model is still used by t1 and t2: it stays.
    expect(mapper.calls.slice(from).some((c) => c.method === 'RemoveDeviceModel')).toBe(false);
    await eventually(async () => (edge.core.twin.get('default/t1')!.twins.temperature!.actual?.value === '19.25' ? true : undefined));
    const m2 = await TestClient.connect(edge.url);
    try {
      await m2.publish('$hw/events/device/default/t1/twin/update', { event_id: 'r', timestamp: Date.now(), twin: { setpoint: { expected: { value: '25' } } } });
      await mapper.next((c) => c.method === 'UpdateDevice' && (c.request.device as PbDevice).spec!.properties!.some((p) => p.name === 'setpoint' && p.desired!.value === '25'), 10_000, from);
    } finally {
      await m2.close();
    }
  });
});

describe('calls to a mapper never hold the twin back', () => {
  const tmp = tempDir('edgetwin-dmi-slow-');
  let edge: TestEdge;
  let client: ManagerClient;
  let mapper: RecordingMapper;
  let mqtt: TestClient;
  const setpointOf = (c: { request: Record<string, unknown> }): string | undefined =>
    (c.request.device as PbDevice | undefined)?.spec?.properties?.find((p) => p.name === 'setpoint')?.desired?.value;

  beforeAll(async () => {
    edge = await startEdge({ 'a.yaml': manifest('s1') }, { dmi: { socket: path.join(tmp.dir, 'dmi.sock') }, mappers: { enabled: [] } }, tmp.dir);
    mapper = new RecordingMapper(path.join(tmp.dir, 'acme.sock'));
    await mapper.start();
    client = new ManagerClient(path.join(tmp.dir, 'dmi.sock'));
    await client.register('acme', path.join(tmp.dir, 'acme.sock'));
    mqtt = await TestClient.connect(edge.url);
  });

  afterAll(async () => {
    client?.close();
    await mqtt?.close();
    await mapper?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  const setDesired = async (value: string): Promise<void> => {
    const id = `set-${value}`;
    await mqtt.publish('$hw/events/device/default/s1/twin/update', { event_id: id, timestamp: Date.now(), twin: { setpoint: { expected: { value } } } });
    await mqtt.next('$hw/events/device/default/s1/twin/update/result', (j) => j.event_id === id);
  };

  it('while the mapper sits on an UpdateDevice, desired values are still answered; then only the latest goes', async () => {
    let release!: () => void;
    const held = new Promise<undefined>((r) => (release = () => r(undefined)));
    mapper.answer = (c) => (c.method === 'UpdateDevice' && setpointOf(c) === '18' ? held : undefined);
    const from = mapper.calls.length;
    await setDesired('18');
    await mapper.next((c) => c.method === 'UpdateDevice' && setpointOf(c) === '18', 10_000, from);
    // The twin answers every update at once although the mapper holds its call.
    for (const v of ['19', '20', '21']) await within(setDesired(v), 5000, `the answer to setpoint ${v}`);
    expect(edge.core.twin.get('default/s1')!.twins.setpoint!.expected!.value).toBe('21');
    release();
    await mapper.next((c) => c.method === 'UpdateDevice' && setpointOf(c) === '21', 10_000, from);
    const sent = mapper.calls.slice(from).filter((c) => c.method === 'UpdateDevice').map(setpointOf);
    expect(sent).toEqual(['18', '21']);
  });

  it('a call the mapper refuses is sent again with backoff until it is taken', async () => {
    let refusals = 2;
    mapper.answer = (c) => {
      if (c.method === 'UpdateDevice' && setpointOf(c) === '22' && refusals-- > 0) throw new Error('busy');
      return undefined;
    };
    const from = mapper.calls.length;
    await setDesired('22');
    await eventually(async () => (mapper.calls.slice(from).filter((c) => c.method === 'UpdateDevice' && setpointOf(c) === '22').length === 3 ? true : undefined), 20_000);
    expect(refusals).toBe(-1);
  });
});

describe('the DMI socket', () => {
  const tmp = tempDir('edgetwin-dmi-sock-');
  afterAll(() => tmp.cleanup());

  it('a stale socket file is replaced; a live one is refused with a code; a long path too', async () => {
    const stale = path.join(tmp.dir, 'stale.sock');
    await leaveStaleSocket(stale);
    const a = await startEdge({}, { dmi: { socket: stale } }, path.join(tmp.dir, 'a'));
    try {
      const b = startEdge({}, { dmi: { socket: stale } }, path.join(tmp.dir, 'b'));
      await expect(within(b, 15_000)).rejects.toMatchObject({ code: 'EDGETWIN_ERR_DMI_SOCKET_IN_USE' });
    } finally {
      await a.stop();
    }
    const long = path.join(tmp.dir, 'x'.repeat(120), 'dmi.sock');
    await expect(startEdge({}, { dmi: { socket: long } }, path.join(tmp.dir, 'c'))).rejects.toMatchObject({ code: 'EDGETWIN_ERR_DMI_SOCKET' });
    mkdirSync(path.join(tmp.dir, 'd'), { recursive: true });
    const regular = path.join(tmp.dir, 'd', 'file.sock');
    writeFileSync(regular, 'not a socket');
    await expect(startEdge({}, { dmi: { socket: regular } }, path.join(tmp.dir, 'e'))).rejects.toMatchObject({ code: 'EDGETWIN_ERR_DMI_SOCKET' });
  });
});

describe('DMI: model defaults and devices changed while running', () => {
  const tmp = tempDir('edgetwin-dmi-live-');
  const sock = (n: string): string => path.join(tmp.dir, n);
  const models = path.join(tmp.dir, 'models');
  // A JSON Schema model carrying KubeEdge ≥ 1.22 DeviceModel defaults (protocolConfigData, visitors).
  const meterModel = (maximum: number): string =>
    JSON.stringify({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'meter',
      protocol: 'acme',
      protocolConfigData: { communicateMode: 'TCP', port: '502', slaveID: 3 },
      type: 'object',
      properties: {
        power: { type: 'number', readOnly: true, visitors: { protocolName: 'acme', configData: { register: 'InputRegister', offset: 4, scale: 0.1 } } },
        limit: { type: 'integer', minimum: 0, maximum, visitors: { protocolName: 'acme', configData: { register: 'HoldingRegister', offset: 9 } } },
      },
      additionalProperties: false,
    });
  const meter = (name: string): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: meter }
  protocol: { protocolName: acme, configData: { ip: 10.0.0.7, slaveID: 9 } }
  properties:
    - name: power
      visitors: { protocolName: acme, configData: { offset: 6 } }
    - name: limit
`;
  let edge: TestEdge;
  let client: ManagerClient;
  let mapper: RecordingMapper;

  beforeAll(async () => {
    mkdirSync(models, { recursive: true });
    writeFileSync(path.join(models, 'meter.json'), meterModel(100));
    edge = await startEdge({ 'm1.yaml': meter('m1') }, { models: [models], dmi: { socket: sock('dmi.sock'), registerGraceMs: 2000 }, mappers: { enabled: [] }, metrics: { port: 0 } }, tmp.dir);
    client = new ManagerClient(sock('dmi.sock'));
    mapper = new RecordingMapper(sock('acme.sock'));
    await mapper.start();
  });

  afterAll(async () => {
    client?.close();
    await mapper?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  it("MapperRegister carries the model's protocolConfigData and visitors merged into each Device, the Device winning", async () => {
    const res = await client.register('acme', sock('acme.sock'));
    const m1 = res.deviceList!.find((d) => d.name === 'm1')!;
    const cfg = m1.spec!.protocol!.configData!.data!;
    expect(unpackValue(cfg.slaveID!, '/s')).toBe(9); // the Device's
    expect(unpackValue(cfg.port!, '/s')).toBe('502'); // the model's default
    expect(unpackValue(cfg.communicateMode!, '/s')).toBe('TCP');
    expect(unpackValue(cfg.ip!, '/s')).toBe('10.0.0.7');
    const power = m1.spec!.properties!.find((p) => p.name === 'power')!.visitors!.configData!.data!;
    expect(unpackValue(power.offset!, '/s')).toBe(6); // the Device's
    expect(unpackValue(power.register!, '/s')).toBe('InputRegister'); // the model's
    expect(unpackValue(power.scale!, '/s')).toBe(0.1);
    const limit = m1.spec!.properties!.find((p) => p.name === 'limit')!.visitors!.configData!.data!;
    expect(unpackValue(limit.offset!, '/s')).toBe(9);
  });

  it('a device added, a model changed and the last device removed while running reach the mapper as they happen', async () => {
    const devices = path.join(tmp.dir, 'devices');
    let from = mapper.calls.length;
    writeFileSync(path.join(devices, 'm2.yaml'), meter('m2'));
    await edge.core.reload();
    await mapper.next((c) => c.method === 'RegisterDevice' && (c.request.device as PbDevice).name === 'm2', 10_000, from);

    from = mapper.calls.length;
    writeFileSync(path.join(models, 'meter.json'), meterModel(500));
    await edge.core.reload();
    await mapper.next((c) => c.method === 'UpdateDeviceModel', 10_000, from);

    from = mapper.calls.length;
    rmSync(path.join(devices, 'm1.yaml'));
    rmSync(path.join(devices, 'm2.yaml'));
    await edge.core.reload();
    await mapper.next((c) => c.method === 'RemoveDevice' && c.request.deviceName === 'm1', 10_000, from);
    await mapper.next((c) => c.method === 'RemoveDevice' && c.request.deviceName === 'm2', 10_000, from);
    // No device uses the model any more: it is removed from the mapper too.
    await mapper.next((c) => c.method === 'RemoveDeviceModel', 10_000, from);
  });
});
