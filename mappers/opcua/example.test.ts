// The example OPC UA device (examples/opcua): its model and manifest load as edgetwin loads any,
// the plugin's simulator serves it (here on a free port, not the manifest's 4840), the mapper
// reads every property and writes one, and the read-only values drift as the demo shows them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadDevices, loadModels, type DeviceInstance, type DeviceModel } from 'edgetwin';
import { bindDevice, type SimulatedDevices } from 'edgetwin/sdk';
import plugin from './index.js';
import { ctx, eventually, freePort } from './harness.test-support.js';

const EXAMPLE = (p: string): string => fileURLToPath(new URL(`../../examples/opcua/${p}`, import.meta.url));

describe('examples/opcua: the simulated boiler', () => {
  let model: DeviceModel;
  let device: DeviceInstance;
  let served: SimulatedDevices;
  let url: string;

  beforeAll(async () => {
    const models = loadModels([EXAMPLE('models')]);
    expect(models.errors).toEqual([]);
    const devices = loadDevices([EXAMPLE('devices')], models.models);
    expect(devices.errors).toEqual([]);
    device = devices.devices[0]!;
    model = models.models.get('opcua-boiler')!;
    const port = await freePort();
    url = `opc.tcp://127.0.0.1:${port}/UA/edgetwin`;
    device = { ...device, protocol: { protocolName: 'opcua', configData: { ...device.protocol!.configData, url } } };
    // The plugin's simulator, as `simulate:` and `edgetwin simulate opcua` start it.
    served = await plugin.simulator!.start([{ instance: device, model }], ctx);
  }, 120_000);

  afterAll(async () => {
    await served?.close();
  }, 60_000);

  it('is served, read in one batch, written, and its read-only values change over time', async () => {
    expect(plugin.factory.protocol).toBe('opcua');
    expect(served.description).toContain(url);
    const bound = bindDevice(plugin.factory, device, model).driverDevice;
    const driver = plugin.factory.connect(ctx, bound);
    try {
      const results = await driver.read(bound.properties, AbortSignal.timeout(15_000));
      expect(results.every((r) => r.ok), JSON.stringify(results)).toBe(true);
      expect(results.map((r) => (r.ok ? r.value : undefined))).toEqual([expect.any(Number), expect.any(Number), expect.any(Number), 60, 40, true]);
      const pump = bound.properties.find((p) => p.name === 'pumpSpeed')!;
      await driver.write(pump, 75, AbortSignal.timeout(5000));
      expect(await driver.read([pump], AbortSignal.timeout(5000))).toEqual([{ ok: true, value: 75 }]);
      const temperature = bound.properties.filter((p) => p.name === 'temperature');
      const read = async (): Promise<unknown> => ((await driver.read(temperature, AbortSignal.timeout(5000)))[0] as { value?: unknown }).value;
      const first = await read();
      await eventually(async () => ((await read()) !== first ? true : undefined), 30_000);
    } finally {
      await driver.close();
    }
  }, 90_000);
});
