// KubeEdge's own v1beta1 Modbus example, unchanged but for the two lines its README says to edit
// (the device's ip and port): the temperature-sensor-demo DeviceModel (kubeedge/examples
// temperature-model.yaml) converts with `edgetwin model from-crd`, and its Device
// (temperature-instance.yaml), rewritten in examples/kubeedge/ with the same keys and values,
// loads with the real loader, is mapped by the in-process Modbus mapper and reads from the real
// Modbus simulator: one holding register × 0.1 for the temperature, a coil for the switch.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ModbusSerial from 'modbus-serial';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileModel, parseDeviceManifest, type JsonSchema } from '../schemas/index.js';
import { ModbusSimulator, ModbusTcpServer } from '../simulators/index.js';
import { eventually } from './async.js';
import { EXAMPLES, tempDir } from './helpers.js';
import { BUILT, runCli, spawnEdge, type RunningEdge } from './process.js';

const DIR = path.join(EXAMPLES, 'kubeedge');
const TOPIC = '$hw/events/device/default/temperature-instance';

interface WireTwin {
  expected?: { value?: string };
  actual?: { value?: string };
  ack?: { state?: string };
  metadata?: { type?: string };
}

/** twin/get over MQTT, as an app would ask. */
async function getTwin(url: string): Promise<Record<string, WireTwin>> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  try {
    const id = `get-${Date.now()}`;
    const answer = new Promise<Record<string, WireTwin>>((resolve) => {
      client.on('message', (_t, payload) => {
        const msg = JSON.parse(payload.toString()) as { event_id?: string; twin?: Record<string, WireTwin> };
        if (msg.event_id === id) resolve(msg.twin ?? {});
      });
    });
    await client.subscribeAsync(`${TOPIC}/twin/get/result`, { qos: 1 });
    await client.publishAsync(`${TOPIC}/twin/get`, JSON.stringify({ event_id: id, timestamp: Date.now() }), { qos: 1 });
    return await answer;
  } finally {
    await client.endAsync();
  }
}

describe.skipIf(!BUILT)('kubeedge/examples temperature-sensor-demo, unchanged', () => {
  const tmp = tempDir('edgetwin-kubeedge-example-');
  let edge: RunningEdge | undefined;
  let slave: ModbusTcpServer | undefined;
  let sim: ModbusSimulator | undefined;
  let modelJson = '';
  let fromCrdStderr = '';

  beforeAll(async () => {
    // 1. The DeviceModel → an edgetwin model, by the CLI.
    const converted = await runCli(['model', 'from-crd', path.join(DIR, 'temperature-model.yaml')]);
    expect(converted.code).toBe(0);
    modelJson = converted.stdout;
    fromCrdStderr = converted.stderr;
    mkdirSync(path.join(tmp.dir, 'models'), { recursive: true });
    writeFileSync(path.join(tmp.dir, 'models', 'temperature-model.json'), modelJson);

    // 2. The real simulator, serving the unit the Device describes, at 21.5 °C with the switch off.
    const model = compileModel(JSON.parse(modelJson) as JsonSchema);
    const original = readFileSync(path.join(DIR, 'temperature-instance.yaml'), 'utf8');
    const device = parseDeviceManifest(parse(original), new Map([[model.name, model]]));
    sim = new ModbusSimulator({ device, model, evolveEveryMs: 0, initial: { temperature: 21.5, 'temperature-switch': 0 } });
    slave = new ModbusTcpServer({ units: [sim], host: '127.0.0.1', port: 0 });
    await slave.start();

    // 3. The Device, with only what upstream's comments say to replace: ip and port.
    const edited = original.replace('ip: "10.244.1.13"', 'ip: "127.0.0.1"').replace('port: "5502"', `port: "${slave.port}"`);
    expect(edited).not.toBe(original);
    mkdirSync(path.join(tmp.dir, 'devices'), { recursive: true });
    writeFileSync(path.join(tmp.dir, 'devices', 'temperature-instance.yaml'), edited);
    edge = await spawnEdge([
      '--node-name', 'kind-worker',
      '--data-dir', path.join(tmp.dir, 'data'),
      '--models', path.join(tmp.dir, 'models'),
      '--devices', path.join(tmp.dir, 'devices'),
      '--mqtt-port', '0',
      '--log-level', 'warn',
    ]);
  });

  afterAll(async () => {
    await edge?.stop();
    await slave?.close();
    tmp.cleanup();
  });

  it('`edgetwin model from-crd` converts the DeviceModel with nothing dropped', () => {
    expect(fromCrdStderr).toBe('');
    expect(JSON.parse(modelJson)).toEqual({
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
  });

  it('the Device loads and is mapped, with coded warnings for what edgetwin ignores', () => {
    expect(edge!.readyLine).toMatch(/1 devices/);
    const { stdout, stderr } = edge!.output();
    const log = stdout + stderr;
    expect(log).not.toMatch(/device not mapped|EDGETWIN_ERR_MAPPER_CONFIG/);
    // `max` and `min` in the temperature visitor: ignored by the mapper, as upstream's Go mapper does.
    expect(log).toMatch(/EDGETWIN_ERR_VISITOR_KEY_UNKNOWN[^\n]*configData\/max/);
    expect(log).toMatch(/EDGETWIN_ERR_VISITOR_KEY_UNKNOWN[^\n]*configData\/min/);
    // `methods`: accepted in the manifest, not implemented, and said so.
    expect(log).toMatch(/EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED[^\n]*\/spec\/methods/);
  });

  it('reads the temperature as one holding register × scale 0.1, and writes the desired switch to its coil', async () => {
    const twin = await eventually(async () => {
      const t = await getTwin(edge!.url);
      return t.temperature?.actual?.value !== undefined && t['temperature-switch']?.ack?.state === 'applied' ? t : undefined;
    }, 20_000);
    expect(twin.temperature).toMatchObject({ actual: { value: '21.5' }, metadata: { type: 'float' } });
    // The manifest's desired value "1" went down to coil 0 and came back as the actual value.
    expect(twin['temperature-switch']).toMatchObject({ expected: { value: '1' }, actual: { value: '1' }, metadata: { type: 'int' } });
    expect(sim!.get('temperature-switch')).toBe(1);
    // What the registers hold, seen by an independent Modbus client: 215 in ONE register (not a float32).
    const client = new ModbusSerial.default();
    await client.connectTCP('127.0.0.1', { port: slave!.port });
    try {
      expect((await client.readHoldingRegisters(0, 1)).data).toEqual([215]);
      expect((await client.readCoils(0, 1)).data[0]).toBe(true);
    } finally {
      await new Promise<void>((r) => client.close(() => r()));
    }
  });
});
