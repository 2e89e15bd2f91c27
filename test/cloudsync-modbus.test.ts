// The whole path with a real device protocol: a desired value set in the cluster reaches a
// simulated Modbus TCP thermostat through the in-process Modbus mapper, and comes back to the
// cluster as observedDesired (ack applied) + reported. The Device and DeviceModel live only in
// the cluster (the DeviceModel made by `model to-crd` from the bundled thermostat model).

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from '../bench/lib.js';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { BUNDLED_MODELS_DIR, compileModel, parseDeviceManifest, resolveConfig, toDeviceModel, type JsonSchema } from '../schemas/index.js';
import { ModbusSimulator, ModbusTcpServer } from '../simulators/index.js';
import { tempDir } from './helpers.js';
import { FakeApiServer, type Obj } from './k8s/index.js';
import { clusterStatus, twinOf, waitFor } from './k8s/fixtures.js';

const EXAMPLE = path.resolve(import.meta.dirname, '..', 'examples', 'devices', 'thermostat.yaml');
const schema = JSON.parse(readFileSync(path.join(BUNDLED_MODELS_DIR, 'thermostat.json'), 'utf8')) as JsonSchema;

async function readSetpoint(port: number): Promise<number> {
  const client = new ModbusSerial.default();
  await client.connectTCP('127.0.0.1', { port });
  try {
    return (await client.readHoldingRegisters(0, 2)).buffer.readFloatBE(0);
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
  }
}

let server: FakeApiServer;
let slave: ModbusTcpServer;
let sim: ModbusSimulator;
let core: EdgeCore;
let port: number;
const tmp = tempDir('edgetwin-cloud-modbus-');

beforeAll(async () => {
  port = await freePort();
  const manifest = parse(readFileSync(EXAMPLE, 'utf8').replace('port: "1502"', `port: "${port}"`)) as Obj;
  sim = new ModbusSimulator({ device: parseDeviceManifest(manifest, new Map([['thermostat', compileModel(schema)]])), model: compileModel(schema) });
  slave = new ModbusTcpServer({ units: [sim], host: '127.0.0.1', port });
  await slave.start();
  sim.start();

  server = await FakeApiServer.start();
  server.apply('devicemodels', toDeviceModel(schema, { namespace: 'default', protocol: 'modbus' }) as unknown as Obj);
  server.apply('devices', manifest);
  const kubeconfig = path.join(tmp.dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: t, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: t, user: u}}]\ncurrent-context: c\n`);
  core = new EdgeCore({
    config: resolveConfig({ nodeName: 'edge-1', dataDir: path.join(tmp.dir, 'data'), mqtt: { port: 0 }, log: { level: 'silent' }, mappers: { enabled: ['modbus'] }, cloud: { kubeconfig, reportCycle: 100 } }),
    logger: silentLogger(),
  });
  await core.start();
});

afterAll(async () => {
  await core?.stop();
  sim?.stop();
  await slave?.close();
  await server?.stop();
  tmp.cleanup();
});

describe('cluster → twin → Modbus device → cluster', () => {
  it('the Device\'s desired values are written to the device and come back as observedDesired + reported', async () => {
    const status = await waitFor(() => {
      const s = clusterStatus(server, 'thermostat');
      const sp = twinOf(s, 'setpoint');
      return sp?.reported?.value === '21' && sp.observedDesired?.metadata?.ack === 'applied' && twinOf(s, 'temperature')?.reported ? s : undefined;
    }, 'setpoint 21 applied and reported', 15_000);
    expect(await readSetpoint(port)).toBe(21);
    expect(twinOf(status, 'setpoint')?.observedDesired).toMatchObject({ value: '21', metadata: { type: 'float', ack: 'applied' } });
    expect(Number(twinOf(status, 'temperature')?.reported?.value)).toBeGreaterThanOrEqual(-40);
    await waitFor(() => clusterStatus(server, 'thermostat')?.state === 'online', 'state online', 10_000);
  });

  it('a new desired value in the cluster reaches the registers and the status', async () => {
    const device = server.store.get('devices', 'default', 'thermostat');
    const props = (device.spec as { properties: Array<Record<string, unknown>> }).properties.map((p) => (p.name === 'setpoint' ? { ...p, desired: { value: '23.5' } } : p));
    server.store.patch('devices', 'default', 'thermostat', { spec: { properties: props } }, undefined);
    await waitFor(() => twinOf(clusterStatus(server, 'thermostat'), 'setpoint')?.reported?.value === '23.5', 'reported 23.5', 15_000);
    expect(await readSetpoint(port)).toBe(23.5);
    expect(twinOf(clusterStatus(server, 'thermostat'), 'setpoint')?.observedDesired?.metadata?.ack).toBe('applied');
  });
});
