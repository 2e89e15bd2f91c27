// Each DMI side against a peer built with another gRPC stack from the contract alone: a Python
// peer (Debian's python3-grpcio) whose stubs python3-grpc-tools generates here from
// dmi/api.proto. It replays mapper-framework's call sequence against `edgetwin run`'s
// DeviceManagerService, and edgecore's against edgetwin's DMI mapper (test/dmi_peer.py). Bad
// messages each get a gRPC status with a coded message and change nothing.

import { requirePeer } from './peers.js';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { DMI_PROTO_FILE } from '../dmi/index.js';
import { silentLogger } from '../edgecore/index.js';
import { modbusMapper, startDmiMapper, type DmiMapper } from '../mappers/index.js';
import { simulateModbus } from '../simulators/index.js';
import { startEdge, tempDir, TestClient, type TestEdge } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const PEER = path.join(import.meta.dirname, 'dmi_peer.py');
// Locally a missing peer skips these tests; with CI=true it fails the run (test/peers.ts).
const HAS_GRPC = requirePeer('grpc');

type PeerEvent = Record<string, unknown> & { event: string };

/** The Python peer: its JSON lines, awaited by predicate. */
class Peer {
  readonly events: PeerEvent[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  private waiters: Array<{ match: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }> = [];

  constructor(args: string[]) {
    // The peer's calls use mapper-framework's 1 s deadline by default; here 10 s, so a loaded CI
    // machine cannot fail them (what the deadline means is shown in test/dmi-edge.test.ts).
    this.child = spawn(PYTHON, [PEER, ...args], { env: { ...process.env, EDGETWIN_DMI_DEADLINE: '10' } });
    let buffer = '';
    this.child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim() === '') continue;
        let event: PeerEvent;
        try {
          event = JSON.parse(line) as PeerEvent;
        } catch {
          // Never crash the test worker on a garbled line: record it, so a test that needs it fails clearly.
          event = { event: 'garbled', line } as unknown as PeerEvent;
        }
        this.events.push(event);
        const ready = this.waiters.filter((w) => w.match(event));
        this.waiters = this.waiters.filter((w) => !w.match(event));
        for (const w of ready) w.resolve(event);
      }
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  next(match: (e: PeerEvent) => boolean, timeoutMs = 30_000): Promise<PeerEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event from the Python peer in ${timeoutMs} ms\nevents: ${JSON.stringify(this.events)}\nstderr: ${this.stderr}`)), timeoutMs);
      const onExit = (code: number | null): void => reject(new Error(`the Python peer exited (${code})\nevents: ${JSON.stringify(this.events)}\nstderr: ${this.stderr}`));
      this.child.once('exit', onExit);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          this.child.off('exit', onExit);
          resolve(e);
        },
      });
    });
  }

  bad(): Record<string, { code: string; details: string }> {
    return Object.fromEntries(this.events.filter((e) => e.event === 'bad').map((e) => [e.case as string, { code: e.code as string, details: e.details as string }]));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Stubs generated from our .proto by python3-grpc-tools, into a temp dir. */
function generateStubs(dir: string): void {
  const r = spawnSync(PYTHON, ['-m', 'grpc_tools.protoc', '-I', path.dirname(DMI_PROTO_FILE), `--python_out=${dir}`, `--grpc_python_out=${dir}`, path.basename(DMI_PROTO_FILE)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`grpc_tools.protoc failed: ${r.stderr}`);
}

const manifest = (name: string): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: ${name}
  namespace: default
spec:
  deviceModelRef:
    name: thermostat
  protocol:
    protocolName: pymodbus
    configData: { communicateMode: TCP, ip: 127.0.0.1, port: "1502", slaveID: 1 }
  stateReport: { reportToCloud: true, reportCycle: 1000 }
  properties:
    - name: temperature
      collectCycle: 1000
      reportToCloud: true
      visitors:
        protocolName: pymodbus
        configData: { register: InputRegister, offset: 0, limit: 2, dataType: float, scale: 1 }
    - name: setpoint
      desired: { value: "21" }
      reportToCloud: true
      visitors:
        protocolName: pymodbus
        configData: { register: HoldingRegister, offset: 0, limit: 2, dataType: float, scale: 0.5 }
`;

describe.skipIf(!HAS_GRPC)('a mapper-framework-like Python mapper against edgetwin', () => {
  const tmp = tempDir('edgetwin-dmi-py-');
  const stubs = mkdtempSync(path.join(tmpdir(), 'edgetwin-stubs-'));
  let edge: TestEdge;
  let peer: Peer;
  let mqtt: TestClient;

  beforeAll(async () => {
    generateStubs(stubs);
    edge = await startEdge({ 'a.yaml': manifest('py1') }, { dmi: { socket: path.join(tmp.dir, 'dmi.sock') }, mappers: { enabled: [] } }, tmp.dir);
    peer = new Peer(['mapper', '--stubs', stubs, '--edge', path.join(tmp.dir, 'dmi.sock'), '--mapper', path.join(tmp.dir, 'py.sock'), '--protocol', 'pymodbus']);
    mqtt = await TestClient.connect(edge.url);
  });

  afterAll(async () => {
    await mqtt?.close();
    await peer?.stop();
    await edge?.stop();
    tmp.cleanup();
    rmSync(stubs, { recursive: true, force: true });
  });

  it('MapperRegister (1 s deadline) returns the Device and model, packed as edgecore packs them', async () => {
    const reg = await peer.next((e) => e.event === 'registered');
    const [device] = reg.devices as Array<Record<string, never>>;
    expect(device).toMatchObject({
      name: 'py1',
      namespace: 'default',
      model: 'thermostat',
      protocol: 'pymodbus',
      config: { communicateMode: ['StringValue', 'TCP'], port: ['StringValue', '1502'], slaveID: ['FloatValue', 1] },
      has: { spec: true, protocol: true, desired: true, visitors: true },
      status: { reportToCloud: true, reportCycle: 1000 },
    });
    const props = (device as unknown as { properties: Array<{ name: string; desired: string; visitors: Record<string, [string, unknown]> }> }).properties;
    expect(props.map((p) => [p.name, p.desired])).toEqual([['temperature', ''], ['setpoint', '21']]);
    expect(props[1]!.visitors).toMatchObject({ register: ['StringValue', 'HoldingRegister'], scale: ['FloatValue', 0.5], limit: ['FloatValue', 2] });
    const models = reg.models as Array<{ name: string; properties: string[][] }>;
    expect(models).toHaveLength(1);
    expect(models[0]!.properties).toContainEqual(['temperature', 'FLOAT', 'ReadOnly', '-40', '125']);
  });

  it('its status reports become the twin, its states the device state', async () => {
    await peer.next((e) => e.event === 'states');
    const state = edge.core.twin.get('default/py1')!;
    expect(state.twins.temperature!.actual!.value).toBe('22.5');
    expect(state.twins.setpoint!.actual!.value).toBe('21');
    expect(state.twins.setpoint!.ack?.state).toBe('applied');
    expect(state.state).toBe('ok');
    expect(state.lastOnline).not.toBe('');
  });

  it('bad messages each get a gRPC status with a coded message and change nothing', async () => {
    await peer.next((e) => e.event === 'serving');
    expect(peer.bad()).toEqual({
      'unknown device': { code: 'NOT_FOUND', details: expect.stringMatching(/^EDGETWIN_ERR_DEVICE_NOT_FOUND: /) },
      'bad value': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_VALUE_TYPE: /) },
      'no twins': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_REQUEST: /) },
      'twin without reported': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_REQUEST: /) },
      'unknown state': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_STATE_INVALID: /) },
      'empty protocol': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_REQUEST: /) },
      'no mapper': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_REQUEST: /) },
    });
    const state = edge.core.twin.get('default/py1')!;
    expect(state.twins.temperature!.actual!.value).toBe('22.5');
    expect(state.state).toBe('ok');
    expect(edge.core.twin.get('default/nope')).toBeUndefined();
  });

  it('a desired value set over MQTT reaches the Python mapper as UpdateDevice, after its model', async () => {
    await mqtt.publish('$hw/events/device/default/py1/twin/update', { event_id: 'x', timestamp: Date.now(), twin: { setpoint: { expected: { value: '23' } } } });
    const update = await peer.next((e) => e.event === 'call' && e.method === 'UpdateDevice');
    const device = update.device as { name: string; properties: Array<{ name: string; desired: string }>; has: Record<string, boolean> };
    expect(device.name).toBe('py1');
    expect(device.properties.find((p) => p.name === 'setpoint')!.desired).toBe('23');
    expect(device.has).toEqual({ spec: true, protocol: true, desired: true, visitors: true });
    const calls = peer.events.filter((e) => e.event === 'call').map((e) => e.method);
    expect(calls.indexOf('CreateDeviceModel')).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('CreateDeviceModel')).toBeLessThan(calls.indexOf('UpdateDevice'));
  });
});

describe.skipIf(!HAS_GRPC)("an edgecore-like Python server against edgetwin's DMI mapper", () => {
  const tmp = tempDir('edgetwin-dmi-pyedge-');
  const stubs = mkdtempSync(path.join(tmpdir(), 'edgetwin-stubs-'));
  let peer: Peer;
  let mapper: DmiMapper | undefined;
  let sim: Awaited<ReturnType<typeof simulateModbus>>;
  let mapperStarted: Promise<DmiMapper>;

  beforeAll(async () => {
    generateStubs(stubs);
    const port = await freePort();
    const file = path.join(tmp.dir, 'thermostat.yaml');
    writeFileSync(file, readFileSync(path.join(import.meta.dirname, '..', 'examples', 'devices', 'thermostat.yaml'), 'utf8').replace('port: "1502"', `port: "${port}"`));
    sim = await simulateModbus({ device: file, port, seed: 5 });
    const edgeSock = path.join(tmp.dir, 'dmi.sock');
    // The mapper first: it waits for edgecore's socket, as mapper-framework does.
    mapperStarted = startDmiMapper({ factory: modbusMapper, edgecoreSocket: edgeSock, mapperSocket: path.join(tmp.dir, 'modbus.sock'), logger: silentLogger(), connectBackoff: { baseMs: 50, maxMs: 500, jitter: 0.2 } });
    peer = new Peer(['edgecore', '--stubs', stubs, '--edge', edgeSock, '--mapper', path.join(tmp.dir, 'modbus.sock'), '--modbus-port', String(port), '--setpoint', '24.5']);
    await peer.next((e) => e.event === 'listening');
    mapper = await mapperStarted;
  });

  afterAll(async () => {
    await peer?.stop();
    await mapper?.stop();
    await sim?.close();
    tmp.cleanup();
    rmSync(stubs, { recursive: true, force: true });
  });

  it('registers as mapper-framework does: withData, its socket as a plain path, state ok', async () => {
    const reg = await peer.next((e) => e.event === 'register');
    expect(reg).toMatchObject({ withData: true, protocol: 'modbus', address: path.join(tmp.dir, 'modbus.sock'), state: 'ok', name: 'edgetwin-modbus-mapper' });
    expect(mapper!.status().map((s) => s.id)).toContain('default/t1');
  });

  it('reports both TwinProperty messages for every reportToCloud property', async () => {
    // A report carries the properties read in that cycle: wait for one with the temperature.
    type Reported = Array<{ property: string; reported: string; has: boolean[]; metadata: Record<string, string> }>;
    const status = await peer.next((e) => e.event === 'status' && (e.twins as Reported).some((t) => t.property === 'temperature'));
    const twins = status.twins as Reported;
    const temperature = twins.find((t) => t.property === 'temperature')!;
    expect(temperature.has).toEqual([true, true]);
    expect(Number(temperature.reported)).toBeGreaterThanOrEqual(-40);
    expect(temperature.metadata.type).toBe('float');
  });

  it('reports the state on every stateReport.reportCycle (500 ms here), as mapper-framework does', async () => {
    const states = () => peer.events.filter((e) => e.event === 'states' && e.device === 't1');
    await peer.next(() => states().length >= 3, 20_000);
    expect(states().every((e) => e.state === 'online')).toBe(true);
  });

  it("edgecore's RegisterDevice and UpdateDevice: the new desired value reaches the register and is acked in the report", async () => {
    await peer.next((e) => e.event === 'registered-device');
    expect(mapper!.status().map((s) => s.id).sort()).toEqual(['default/t1', 'default/t2']);
    const acked = await peer.next((e) => e.event === 'status' && (e.twins as Array<{ property: string; observedDesired: string }>).some((t) => t.property === 'setpoint' && t.observedDesired === '24.5'));
    const setpoint = (acked.twins as Array<{ property: string; reported: string; metadata: Record<string, string> }>).find((t) => t.property === 'setpoint')!;
    expect(setpoint.reported).toBe('24.5');
    const client = new ModbusSerial.default();
    await client.connectTCP('127.0.0.1', { port: sim.port });
    try {
      expect((await client.readHoldingRegisters(0, 2)).buffer.readFloatBE(0)).toBe(24.5);
    } finally {
      await new Promise<void>((r) => client.close(() => r()));
    }
  });

  it('bad messages each get a gRPC status with a coded message and change nothing', async () => {
    await peer.next((e) => e.event === 'done', 60_000);
    expect(peer.bad()).toEqual({
      'unknown protocol': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_PROTOCOL_MISMATCH: /) },
      'device without a model': { code: 'FAILED_PRECONDITION', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_MODEL_UNKNOWN: /) },
      'malformed Any': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_VALUE: /) },
      'Any of an unknown type': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_VALUE: /) },
      'no device': { code: 'INVALID_ARGUMENT', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_REQUEST: /) },
      'remove unknown device': { code: 'NOT_FOUND', details: expect.stringMatching(/^EDGETWIN_ERR_DEVICE_NOT_FOUND: /) },
      'update unknown model': { code: 'FAILED_PRECONDITION', details: expect.stringMatching(/^EDGETWIN_ERR_DMI_MODEL_UNKNOWN: /) },
      'get unknown device': { code: 'NOT_FOUND', details: expect.stringMatching(/^EDGETWIN_ERR_DEVICE_NOT_FOUND: /) },
    });
    // Nothing changed: the same two devices run, t1 still works to 24.5.
    expect(mapper!.status().map((s) => s.id).sort()).toEqual(['default/t1', 'default/t2']);
    const get = await peer.next((e) => e.event === 'get');
    expect((get.twins as Array<{ property: string; observedDesired: string }>).find((t) => t.property === 'setpoint')!.observedDesired).toBe('24.5');
  });
});
