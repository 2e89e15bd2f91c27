// The closed loop when a write fails (docs/reliability.md, "The closed loop"): a desired value
// whose write failed because the device did not answer is retried when the device is back online
// and on the periodic re-sync, and setting the same value again re-opens it. A real EdgeCore with
// its in-process Modbus mapper, a simulated Modbus thermostat on a real TCP port whose faults the
// test switches, and an app setting values over MQTT (mqtt.js).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { silentLogger } from '../edgecore/index.js';
import { MqttBus } from '../eventbus/index.js';
import type { RawConfig } from '../schemas/index.js';
import type { ModbusSimulator } from '../simulators/index.js';
import { eventually, startEdge, type TestEdge } from './helpers.js';
import { startThermostatSim, thermostatOnModbus } from './thermostat-sim.js';

const ID = 'default/boiler';

interface Rig {
  readonly edge: TestEdge;
  readonly sim: ModbusSimulator;
  readonly twins: TwinClient;
  ack(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** The simulated device first (its port goes into the manifest), then edgetwin, then an app. */
async function startRig(mappers: NonNullable<RawConfig['mappers']>): Promise<Rig> {
  const device = await startThermostatSim();
  const { sim, port } = device;
  const edge = await startEdge({ 'boiler.yaml': thermostatOnModbus(port) }, { mappers: { enabled: ['modbus'], timeoutMs: 300, ...mappers }, metrics: { enabled: false } });
  const bus = new MqttBus({ url: edge.url, logger: silentLogger() });
  await bus.start();
  const twins = new TwinClient(bus);
  await eventually(async () => (edge.core.twin.get(ID)?.state === 'online' ? true : undefined), 20_000);
  return {
    edge,
    sim,
    twins,
    ack: async () => (await twins.get(ID)).twin.setpoint?.ack?.state,
    close: async () => {
      await bus.close();
      await edge.stop();
      await device.close();
    },
  };
}

// Generous: each step waits for writes to time out and for backoff, on a machine shared by many.
const TEST_MS = 90_000;

const ackIs = (rig: Rig, state: string, ms = 30_000): Promise<true> => eventually(async () => ((await rig.ack()) === state ? true : undefined), ms);

describe('a desired value that failed while the device was unreachable', () => {
  let rig: Rig;
  // Offline after 2 failed polls; the periodic re-sync out of the way (an hour).
  beforeAll(async () => (rig = await startRig({ offlineAfter: 2, resyncMs: 3_600_000 })), TEST_MS);
  afterAll(async () => rig?.close());

  it('is applied when the device is back online, without being set again', async () => {
    rig.sim.faults.silence(true);
    const set = await rig.twins.setDesired(ID, { setpoint: '23' });
    expect(set.twin.setpoint?.ack?.state).toBe('pending');
    await ackIs(rig, 'failed');
    expect((await rig.twins.get(ID)).twin.setpoint?.ack?.code).toBe('EDGETWIN_ERR_MAPPER_TIMEOUT');
    await eventually(async () => (rig.edge.core.twin.get(ID)?.state === 'offline' ? true : undefined), 30_000);
    expect(rig.sim.get('setpoint')).not.toBe(23);

    rig.sim.faults.silence(false);
    await ackIs(rig, 'applied');
    expect(rig.sim.get('setpoint')).toBe(23);
    const twin = (await rig.twins.get(ID)).twin.setpoint!;
    expect(twin.actual?.value).toBe('23');
    expect(twin.expected?.value).toBe('23');
    expect(rig.edge.core.twin.get(ID)?.state).toBe('online');
  }, TEST_MS);
});

describe('a desired value that failed while the device still counted as online', () => {
  let rig: Rig;
  // Never offline (1000 failed polls), so only the re-sync (every second here) can retry it.
  beforeAll(async () => (rig = await startRig({ offlineAfter: 1000, resyncMs: 1000 })), TEST_MS);
  afterAll(async () => rig?.close());

  it('is applied by the periodic re-sync once the device answers', async () => {
    rig.sim.faults.silence(true);
    await rig.twins.setDesired(ID, { setpoint: '24' });
    await ackIs(rig, 'failed');
    rig.sim.faults.silence(false);
    await ackIs(rig, 'applied');
    expect(rig.sim.get('setpoint')).toBe(24);
    expect(rig.edge.core.twin.get(ID)?.state).toBe('online'); // no offline → online to trigger it
  }, TEST_MS);
});

describe('setting the same desired value again after it failed', () => {
  let rig: Rig;
  // Neither trigger of an automatic retry can fire: only setting it again can.
  beforeAll(async () => (rig = await startRig({ offlineAfter: 1000, resyncMs: 3_600_000 })), TEST_MS);
  afterAll(async () => rig?.close());

  it('re-opens its delta (ack pending) and the mapper writes it', async () => {
    rig.sim.faults.silence(true);
    await rig.twins.setDesired(ID, { setpoint: '25' });
    await ackIs(rig, 'failed');
    const failed = await rig.twins.get(ID);
    rig.sim.faults.silence(false);
    // The mapper reads the device again (a new temperature arrives), yet nothing retried the value.
    rig.sim.set('temperature', 30);
    await eventually(async () => ((await rig.twins.get(ID)).twin.temperature?.actual?.value === '30' ? true : undefined), 30_000);
    expect(await rig.ack()).toBe('failed');
    expect(rig.sim.get('setpoint')).not.toBe(25);

    const again = await rig.twins.setDesired(ID, { setpoint: '25' });
    expect(again.twin.setpoint?.ack?.state).toBe('pending');
    expect(again.version).toBeGreaterThan(failed.version!); // a change: persisted and published
    await ackIs(rig, 'applied');
    expect(rig.sim.get('setpoint')).toBe(25);
    expect((await rig.twins.get(ID)).twin.setpoint?.actual?.value).toBe('25');
  }, TEST_MS);
});
