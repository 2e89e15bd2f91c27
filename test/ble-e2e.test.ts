// The Bluetooth path end to end, as in the demo: a simulated BLE environmental sensor beneath
// noble, the unchanged Bluetooth mapper (in-process, and in `edgetwin simulate ble`), the twin.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';
import { eventually, startEdge, tempDir, writeManifests, type TestEdge } from './helpers.js';
import { BIN, BUILT, edgeArgs, spawnEdge, type RunningEdge } from './process.js';
import { spawn, type ChildProcess } from 'node:child_process';

const SENSOR = readFileSync(path.resolve(import.meta.dirname, '..', 'examples', 'devices', 'ble-sensor.yaml'), 'utf8').replace('nodeName: edge-1', 'nodeName: edge-test');
const ID = 'default/ble-env-sensor-1';

describe('the demo: simulated BLE sensor, in-process Bluetooth mapper', () => {
  let edge: TestEdge;
  let bus: MqttBus;
  let twins: TwinClient;

  beforeAll(async () => {
    edge = await startEdge({ 'ble.yaml': SENSOR }, { simulate: [ID], mappers: { enabled: ['bluetooth'], bluetoothAdapter: 'simulated' } });
    bus = new MqttBus({ url: edge.url });
    await bus.start();
    twins = new TwinClient(bus);
  });

  afterAll(async () => {
    await bus?.close();
    await edge?.stop();
  });

  it('shows notified temperature and humidity live in the twin', async () => {
    const t = await eventually(async () => {
      const twin = (await twins.get(ID)).twin;
      return twin.temperature?.actual && twin.humidity?.actual ? twin : undefined;
    });
    expect(Number(t.humidity!.actual!.value)).toBeGreaterThanOrEqual(0);
    const first = t.temperature!.actual!.value;
    // Notifications keep coming: the value (or at least its timestamp) moves on.
    await eventually(async () => {
      const now = (await twins.get(ID)).twin.temperature?.actual;
      return now && (now.value !== first || now.metadata!.timestamp! > t.temperature!.actual!.metadata!.timestamp!) ? true : undefined;
    });
  });

  it('a desired value for a writable characteristic is written, read back and acked applied', async () => {
    await twins.setDesired(ID, { led: 'true' });
    const led = await eventually(async () => {
      const l = (await twins.get(ID)).twin.led;
      return l?.expected?.value === 'true' && l.ack?.state === 'applied' ? l : undefined;
    });
    expect(led.actual!.value).toBe('true');
  });
});

describe.skipIf(!BUILT)('edgetwin simulate ble beside a running edgetwin', () => {
  const tmp = tempDir();
  let edge: RunningEdge;
  let sim: ChildProcess;

  beforeAll(async () => {
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, { 'ble.yaml': SENSOR });
    edge = await spawnEdge(edgeArgs(tmp.dir, devices));
    sim = spawn(process.execPath, [BIN, 'simulate', 'ble', '--device', path.join(devices, 'ble.yaml'), '--broker', edge.url, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`simulate ble not ready: ${out}`)), 15_000);
      sim.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/simulator ready: ble, 1 devices/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });

  afterAll(async () => {
    sim?.kill('SIGTERM');
    await edge?.stop();
    tmp.cleanup();
  });

  it('drives the sensor\'s twin over MQTT', async () => {
    const bus = new MqttBus({ url: edge.url });
    await bus.start();
    try {
      const twins = new TwinClient(bus);
      const twin = await eventually(async () => {
        const t = (await twins.get(ID)).twin;
        return t.temperature?.actual ? t : undefined;
      });
      expect(twin.temperature!.metadata!.type).toBe('float');
    } finally {
      await bus.close();
    }
  });
});
