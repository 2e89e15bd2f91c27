// Faults at the edges, each with the outcome docs/reliability.md promises:
// - a mapper's device disconnects mid-read: the read fails with a coded error, nothing of it
//   reaches the twin, the device goes offline after `offlineAfter` polls, and recovers;
// - an MQTT client disconnects mid QoS 1 flow: a publish the broker received is committed and
//   answered even though its PUBACK cannot be delivered; resending it changes nothing; a QoS 1
//   delivery a persistent session did not acknowledge is redelivered when it reconnects (the
//   twin's own answers are QoS 0, so those are re-read with twin/get instead).
// (The disk filling up: faults-store.test.ts. The cluster unreachable: faults-cloud.test.ts.)

import { connect as netConnect, type Socket } from 'node:net';
import path from 'node:path';
import mqtt from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceTwin, SqliteTwinStore } from '../devicetwin/index.js';
import { EmbeddedBroker } from '../eventbus/index.js';
import { MapperRuntime, modbusMapper } from '../mappers/index.js';
import type { DeviceInstance } from '../schemas/index.js';
import { startModbusTestRig, type ModbusTestRig } from '../simulators/index.js';
import { tempDir, thermostatManifest, TestClient } from './helpers.js';
import { startSecureEdge, within, type SecureEdge } from './security-rig.js';

/** Resolves with `check()`'s first truthy value, checking on every turn of the event loop. */
function until<T>(check: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  return within(
    new Promise<T>((resolve) => {
      const tick = (): void => {
        const v = check();
        if (v !== undefined && v !== false) resolve(v);
        else setImmediate(tick);
      };
      tick();
    }),
    ms,
    what,
  );
}

describe("a mapper's device disconnecting mid-read", () => {
  const ID = 'default/modbus-test';
  let rig: ModbusTestRig;
  const tmp = tempDir('edgetwin-fault-');
  const logger = pino({ level: 'silent' });
  const store = new SqliteTwinStore({ path: path.join(tmp.dir, 'edgetwin.db') });
  const broker = new EmbeddedBroker({ port: 0, logger });
  const twin = new DeviceTwin({ bus: broker, store, nodeName: 'edge-test', logger });
  let runtime: MapperRuntime;

  beforeAll(async () => {
    rig = await startModbusTestRig();
    // Poll fast so the test sees several polls; report only changes.
    const instance: DeviceInstance = { ...rig.device, properties: rig.device.properties.map((p) => ({ ...p, collectCycle: 50, reportCycle: 60_000 })) };
    await twin.start();
    await broker.start();
    await twin.setDevices([{ instance, model: rig.model }]);
    twin.listen();
    runtime = new MapperRuntime({ bus: broker, factories: [modbusMapper], logger, timeoutMs: 300, offlineAfter: 2 });
    await runtime.setDevices([{ instance, model: rig.model }]);
  });

  afterAll(async () => {
    await runtime.stop();
    await twin.stop();
    await broker.close();
    await store.close();
    await rig.close();
    tmp.cleanup();
  });

  it('fails the read with a coded error, keeps the last committed values, marks the device offline, then recovers', async () => {
    await until(() => twin.get(ID)?.state === 'online' && twin.get(ID)?.twins.i16?.actual, 'first readings');
    const before = twin.get(ID)!;
    // From now on the device closes the connection on every request, instead of answering it.
    rig.simulator.faults.dropNext(Number.MAX_SAFE_INTEGER);
    rig.simulator.set('i16', 5); // a value the mapper can no longer read
    await until(() => twin.get(ID)?.state === 'offline', 'the device reported offline');
    const during = twin.get(ID)!;
    expect(during.twins).toEqual(before.twins);
    expect(during.version).toBe(before.version);
    expect(runtime.status().find((s) => s.id === ID)?.lastError?.code).toBe('EDGETWIN_ERR_MAPPER_CONNECTION');

    rig.simulator.faults.clear();
    await until(() => twin.get(ID)?.state === 'online' && twin.get(ID)?.twins.i16?.actual?.value === '5', 'recovery with the new value');
    expect(broker.stats().ingestFailures).toBe(0);
  });
});

/** A raw MQTT 3.1.1 connection whose every packet is parsed and kept, so a test decides what to acknowledge. */
class RawClient {
  readonly packets: Packet[] = [];
  private constructor(readonly socket: Socket) {}

  static async connect(url: string, clientId: string, clean = true): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    const socket = netConnect(Number(port), hostname);
    socket.on('error', () => undefined);
    const client = new RawClient(socket);
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => void client.packets.push(p));
    socket.on('data', (d: Buffer) => void parser.parse(d));
    await within(new Promise<void>((resolve) => socket.once('connect', () => resolve())), 5000, 'TCP connect');
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 30 }));
    await client.next('connack');
    return client;
  }

  next(cmd: Packet['cmd']): Promise<Packet> {
    return until(() => this.packets.find((p) => p.cmd === cmd), `a ${cmd}`, 5000);
  }

  /** Writes a packet and resolves once the bytes have left this process. */
  send(packet: Parameters<typeof mqttPacket.generate>[0]): Promise<void> {
    return new Promise((resolve) => this.socket.write(mqttPacket.generate(packet), () => resolve()));
  }
}

describe('an MQTT client disconnecting mid QoS 1 flow', () => {
  const DEV = '$hw/events/device/default/thermo';
  let edge: SecureEdge;
  let watcher: TestClient;

  beforeAll(async () => {
    edge = await startSecureEdge({ manifests: { 'thermo.yaml': thermostatManifest() } });
    watcher = await TestClient.connect(edge.url, [`${DEV}/twin/update/result`]);
  });

  afterAll(async () => {
    await watcher.close();
    await edge.stop();
  });

  it('commits and answers a publish whose sender is gone before its PUBACK; a resend changes nothing', async () => {
    const version = edge.core.twin.get('default/thermo')!.version;
    const raw = await RawClient.connect(edge.url, 'vanishing-app');
    const payload = JSON.stringify({ event_id: 'gone-1', twin: { setpoint: { expected: { value: '22' } } } });
    await raw.send({ cmd: 'publish', topic: `${DEV}/twin/update`, payload, qos: 1, messageId: 7, retain: false, dup: false });
    raw.socket.destroy();
    const result = await watcher.next(`${DEV}/twin/update/result`, (j) => j.event_id === 'gone-1');
    expect(result.json).toMatchObject({ twin: { setpoint: { expected: { value: '22' } } } });
    expect(edge.core.twin.get('default/thermo')!.version).toBe(version + 1);

    // The client comes back and resends it (QoS 1 is at least once): same values, no new version.
    const back = await RawClient.connect(edge.url, 'vanishing-app');
    await back.send({ cmd: 'publish', topic: `${DEV}/twin/update`, payload, qos: 1, messageId: 7, retain: false, dup: true });
    expect(await back.next('puback')).toMatchObject({ messageId: 7 });
    expect(edge.core.twin.get('default/thermo')!.version).toBe(version + 1);
    back.socket.destroy();
    expect(edge.core.bus.stats().ingestFailures).toBe(0);
  });

  it('redelivers a QoS 1 message a persistent session did not acknowledge, when it reconnects', async () => {
    const requests = `${DEV}/twin/update`;
    const documents = `${DEV}/twin/update/document`;
    const raw = await RawClient.connect(edge.url, 'slow-app', false);
    await raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: requests, qos: 1 }, { topic: documents, qos: 1 }] });
    await raw.next('suback');
    await watcher.publish(requests, { event_id: 'fwd-1', twin: { setpoint: { expected: { value: '23' } } } }, 1);
    const forwarded = await until(() => raw.packets.find((p): p is Packet & { cmd: 'publish' } => p.cmd === 'publish' && p.topic === requests), 'the forwarded update');
    const document = await until(() => raw.packets.find((p): p is Packet & { cmd: 'publish' } => p.cmd === 'publish' && p.topic === documents), 'the document');
    expect(forwarded.qos).toBe(1);
    // edgetwin's own answers (results, documents, deltas) go out at QoS 0, as KubeEdge's
    // eventbus does by default (mqttQOS 0): a client that was away re-reads with twin/get.
    expect(document.qos).toBe(0);
    // Gone without a PUBACK.
    raw.socket.destroy();

    // The listener goes on before CONNECT: the broker resends right after its CONNACK.
    const again = mqtt.connect(edge.url, { clientId: 'slow-app', clean: false, reconnectPeriod: 0 });
    try {
      const redelivered = await within(
        new Promise<string>((resolve) => again.on('message', (topic, payload) => topic === requests && resolve(payload.toString()))),
        5000,
        'the redelivery',
      );
      expect(redelivered).toBe(forwarded.payload.toString());
    } finally {
      await again.endAsync();
    }
  });
});

describe('a graceful stop with publishes still in flight', () => {
  it('acknowledges nothing it does not commit: held-back publishes are refused, not PUBACKed', async () => {
    // One message per second and a burst of one: the second publish waits on its rate.
    const edge = await startSecureEdge({
      manifests: { 'thermo.yaml': thermostatManifest() },
      config: { mqtt: { limits: { publishRatePerClient: 1, publishBurstPerClient: 1 } } },
    });
    const client = await mqtt.connectAsync(edge.url, { reconnectPeriod: 0 });
    client.on('error', () => undefined);
    const DEV = '$hw/events/device/default/thermo/twin/update';
    const update = (v: string): string => JSON.stringify({ twin: { temperature: { actual: { value: v } } } });
    await client.publishAsync(DEV, update('1'), { qos: 1 });
    let acked = false;
    client.publish(DEV, update('2'), { qos: 1 }, (err) => (acked = !err));
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await until(() => edge.core.bus.stats().inflight === 1, 'the second publish held back');
    await edge.stop();
    await within(gone, 5000, 'the connection closed');
    // Refused at the gate: never acknowledged, never committed (the twin outlives its stop in memory).
    expect(acked).toBe(false);
    expect(edge.core.twin.get('default/thermo')!.twins.temperature?.actual?.value).toBe('1');
    client.end(true);
  });
});

