// The example OPC UA device (examples/opcua): its model and manifest load as edgetwin loads any,
// the plugin's simulator serves it (here on a free port, not the manifest's 4840), the mapper
// reads every property and writes one, and the read-only values drift as the demo shows them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadDevices, loadModels, type DeviceInstance, type DeviceModel } from 'edgetwin';
import { bindDevice } from 'edgetwin/sdk';
import plugin from './index.js';
import { startOpcuaServer, type OpcuaSimServer } from './simulator.js';
import { ctx, eventually, freePort } from './harness.test-support.js';

const EXAMPLE = (p: string): string => fileURLToPath(new URL(`../../examples/opcua/${p}`, import.meta.url));

describe('examples/opcua: the simulated boiler', () => {
  let model: DeviceModel;
  let device: DeviceInstance;
  let server: OpcuaSimServer;

  beforeAll(async () => {
    const models = loadModels([EXAMPLE('models')]);
    expect(models.errors).toEqual([]);
    const devices = loadDevices([EXAMPLE('devices')], models.models);
    expect(devices.errors).toEqual([]);
    device = devices.devices[0]!;
    model = models.models.get('opcua-boiler')!;
    const port = await freePort();
    const url = `opc.tcp://127.0.0.1:${port}/UA/edgetwin`;
    device = { ...device, protocol: { protocolName: 'opcua', configData: { ...device.protocol!.configData, url } } };
    server = await startOpcuaServer(url, [{ instance: device, model }], ctx, { animateMs: 50 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('is served, read in one batch, written, and its read-only values change over time', async () => {
    expect(plugin.factory.protocol).toBe('opcua');
    expect(plugin.simulator).toBeDefined();
    const bound = bindDevice(plugin.factory, device, model).driverDevice;
    const driver = plugin.factory.connect(ctx, bound);
    try {
      const results = await driver.read(bound.properties, AbortSignal.timeout(15_000));
      expect(results.every((r) => r.ok), JSON.stringify(results)).toBe(true);
      expect(results.map((r) => (r.ok ? r.value : undefined))).toEqual([expect.any(Number), expect.any(Number), expect.any(Number), 60, 40, true]);
      const pump = bound.properties.find((p) => p.name === 'pumpSpeed')!;
      await driver.write(pump, 75, AbortSignal.timeout(5000));
      expect(server.get('default/opcua-boiler', 'pumpSpeed')).toBe(75);
      const first = server.get('default/opcua-boiler', 'temperature');
      await eventually(() => (server.get('default/opcua-boiler', 'temperature') !== first ? true : undefined));
    } finally {
      await driver.close();
    }
  }, 90_000);
});
