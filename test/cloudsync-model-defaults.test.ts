// KubeEdge ≥ 1.22 DeviceModel defaults on the cluster path: the DeviceModel carries the Modbus
// connection (`protocolConfigData`) and each property's register (`visitors`); the Device names
// only its protocol and its properties, and overrides one key. edgecore merges the two before the
// mapper sees the Device (`overrideDeviceInstanceConfig`), so such a Device must be mapped and
// read here too — it used to be refused for having no visitor.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { compileModel, fromDeviceModel, parseDeviceManifest, resolveConfig } from '../schemas/index.js';
import { ModbusSimulator, ModbusTcpServer } from '../simulators/index.js';
import { tempDir } from './helpers.js';
import { FakeApiServer, type Obj } from './k8s/index.js';
import { clusterStatus, twinOf, waitFor } from './k8s/fixtures.js';

let server: FakeApiServer;
let slave: ModbusTcpServer;
let core: EdgeCore;
const tmp = tempDir('edgetwin-cloud-defaults-');

function deviceModel(port: number): Obj {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'DeviceModel',
    metadata: { name: 'temperature-model', namespace: 'default' },
    spec: {
      protocol: 'modbus',
      // slaveID 9 is overridden by the Device below: the unit answers as 1.
      protocolConfigData: { communicateMode: 'TCP', ip: '127.0.0.1', port: String(port), slaveID: 9 },
      properties: [
        {
          name: 'temperature',
          type: 'FLOAT',
          accessMode: 'ReadOnly',
          visitors: { protocolName: 'modbus', configData: { dataType: 'float', register: 'HoldingRegister', offset: 0, limit: 1, scale: 0.1 } },
        },
        { name: 'humidity', type: 'INT', accessMode: 'ReadOnly', visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 3, limit: 1 } } },
      ],
    },
  };
}

const DEVICE: Obj = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'room-1', namespace: 'default' },
  spec: {
    deviceModelRef: { name: 'temperature-model' },
    nodeName: 'edge-1',
    protocol: { protocolName: 'modbus', configData: { slaveID: 1 } },
    // humidity's visitor gets its offset from the Device: 5, not the model's 3.
    properties: [{ name: 'temperature' }, { name: 'humidity', visitors: { protocolName: 'modbus', configData: { offset: 5 } } }],
  },
};

beforeAll(async () => {
  // The port goes into the DeviceModel, so it is chosen first; the simulator is built from the
  // merged Device, by the same loader the edge uses.
  const port = await freePort();
  const model = compileModel(fromDeviceModel(deviceModel(port)).schema);
  const merged = parseDeviceManifest(DEVICE, new Map([[model.name, model]]));
  const sim = new ModbusSimulator({ device: merged, model, evolveEveryMs: 0, initial: { temperature: 23.4, humidity: 41 } });
  slave = new ModbusTcpServer({ units: [sim], host: '127.0.0.1', port });
  await slave.start();

  server = await FakeApiServer.start();
  server.apply('devicemodels', deviceModel(port));
  server.apply('devices', DEVICE);
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
  await slave?.close();
  await server?.stop();
  tmp.cleanup();
});

describe('DeviceModel protocolConfigData and visitors reach a cluster Device', () => {
  it('the merged Device is mapped: both properties read from the registers the model (and the Device) name', async () => {
    const status = await waitFor(() => {
      const s = clusterStatus(server, 'room-1');
      return twinOf(s, 'temperature')?.reported && twinOf(s, 'humidity')?.reported ? s : undefined;
    }, 'temperature and humidity reported', 15_000);
    expect(twinOf(status, 'temperature')?.reported?.value).toBe('23.4');
    expect(twinOf(status, 'humidity')?.reported?.value).toBe('41');
    const bound = core.twin.list().find((e) => e.instance.id === 'default/room-1');
    expect(bound?.instance.protocol).toEqual({ protocolName: 'modbus', configData: { communicateMode: 'TCP', ip: '127.0.0.1', port: String(slave.port), slaveID: 1 } });
    expect(bound?.instance.properties.find((p) => p.name === 'humidity')?.visitors?.configData).toEqual({ register: 'InputRegister', offset: 5, limit: 1 });
  });
});
