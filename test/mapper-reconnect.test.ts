// A mapper in its own process loses its broker connection; a desired value set meanwhile (its
// delta lost: the twin publishes deltas at QoS 0) is applied once the mapper is back, because
// the runtime re-fetches desired values on every reconnect.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { silentLogger } from '../edgecore/index.js';
import { MqttBus } from '../eventbus/index.js';
import { MapperRuntime } from '../mappers/index.js';
import { HttpJsonDevice } from '../examples/http-mapper/device.js';
import { httpJsonMapper } from '../examples/http-mapper/mapper.js';
import { startEdge, type TestEdge } from './helpers.js';

/** A TCP proxy the test can cut and restore, between the mapper and the broker. */
class Proxy {
  private server?: Server;
  private readonly pairs = new Set<Socket>();
  private open = true;
  constructor(private readonly target: number) {}
  async start(): Promise<number> {
    this.server = createServer((client) => {
      if (!this.open) return void client.destroy();
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.pairs.add(s);
        s.on('close', () => this.pairs.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as { port: number }).port;
  }
  cut(): void {
    this.open = false;
    for (const s of this.pairs) s.destroy();
  }
  restore(): void {
    this.open = true;
  }
  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server?.close(() => r()));
  }
}

const MANIFEST = (url: string): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: room-1, namespace: default }
spec:
  deviceModelRef: { name: thermostat }
  protocol: { protocolName: http-json, configData: { url: "${url}" } }
  properties:
    - { name: setpoint, collectCycle: 100, visitors: { protocolName: http-json, configData: { key: setpoint } } }
`;

describe('a mapper over MQTT re-fetches desired values after a reconnect', () => {
  let edge: TestEdge;
  let device: HttpJsonDevice;
  let proxy: Proxy;
  let mapperBus: MqttBus;
  let runtime: MapperRuntime;
  let app: MqttBus;

  beforeAll(async () => {
    device = new HttpJsonDevice({ setpoint: 20 });
    const url = await device.start();
    edge = await startEdge({ 'room.yaml': MANIFEST(url) }, { mappers: { enabled: [] } });
    proxy = new Proxy(Number(new URL(edge.url).port));
    const port = await proxy.start();
    mapperBus = new MqttBus({ url: `mqtt://127.0.0.1:${port}`, clientId: 'http-mapper', reconnectBaseMs: 50, reconnectMaxMs: 200, logger: silentLogger() });
    await mapperBus.start();
    runtime = new MapperRuntime({ bus: mapperBus, factories: [httpJsonMapper], logger: silentLogger() });
    const model = edge.core.twin.list()[0]!.model;
    await runtime.setDevices(edge.core.twin.list().map((e) => ({ instance: e.instance, model })));
    app = new MqttBus({ url: edge.url, logger: silentLogger() });
    await app.start();
  });

  afterAll(async () => {
    await runtime?.stop();
    await mapperBus?.close();
    await app?.close();
    await proxy?.close();
    await edge?.stop();
    await device?.close();
  });

  it('applies a desired value set while the mapper was disconnected', async () => {
    const twins = new TwinClient(app);
    const disconnected = new Promise<void>((r) => mapperBus.onConnectionChange((c) => c || r()));
    proxy.cut();
    await disconnected;
    await twins.setDesired('default/room-1', { setpoint: '24' }); // its delta goes nowhere
    const reconnected = new Promise<void>((r) => mapperBus.onConnectionChange((c) => c && r()));
    proxy.restore();
    await reconnected;
    const until = Date.now() + 10_000;
    while (device.state.setpoint !== 24 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(device.state.setpoint).toBe(24);
    const until2 = Date.now() + 10_000;
    let ack: string | undefined;
    while (ack !== 'applied' && Date.now() < until2) {
      ack = (await twins.get('default/room-1')).twin.setpoint?.ack?.state;
      if (ack !== 'applied') await new Promise((r) => setTimeout(r, 50));
    }
    expect(ack).toBe('applied');
  });
});
