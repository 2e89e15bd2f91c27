// Two mappers serving one device, a common mistake (the same manifests given to two
// `edgetwin mapper` processes, or an in-process mapper left enabled beside an outside one): the
// twin reports it (a coded warning naming both clients, a metric), and the device's state does
// not stick at `offline` — said by the mapper that cannot reach the device — while the other
// mapper's readings keep arriving. Real processes: edgetwin (an EdgeCore whose log the test
// reads), two `edgetwin mapper modbus`, a simulated Modbus device on TCP, an MQTT observer.

import { createServer } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeCore } from '../edgecore/index.js';
import { resolveConfig } from '../schemas/index.js';
import { eventually, tempDir, TestClient, writeManifests } from './helpers.js';
import { BUILT, spawnCli, type RunningCli } from './process.js';
import { startThermostatSim, thermostatOnModbus, type ThermostatSim } from './thermostat-sim.js';

const ID = 'default/boiler';
const STATE_TOPIC = '$hw/events/device/default/boiler/state/update';
const READY = /mapper modbus ready: (\d+) devices/;

/** A port nothing listens on (connections to it are refused): the device as a misconfigured mapper sees it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!BUILT)('two mappers serving one device', () => {
  const tmp = tempDir('edgetwin-conflict-');
  const logs: Record<string, unknown>[] = [];
  let device: ThermostatSim;
  let core: EdgeCore;
  let observer: TestClient;
  const mappers: RunningCli[] = [];

  beforeAll(async () => {
    device = await startThermostatSim();
    writeManifests(path.join(tmp.dir, 'devices'), { 'boiler.yaml': thermostatOnModbus(device.port) });
    // The second mapper's copy of the same device points at the wrong port: it never reaches it.
    writeManifests(path.join(tmp.dir, 'wrong'), { 'boiler.yaml': thermostatOnModbus(await closedPort()) });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    core = new EdgeCore({
      config: resolveConfig({
        nodeName: 'edge-test',
        dataDir: path.join(tmp.dir, 'data'),
        devices: [path.join(tmp.dir, 'devices')],
        mqtt: { port: 0 },
        mappers: { enabled: [] }, // outside mappers only
        metrics: { enabled: true, port: 0 },
      }),
      logger,
    });
    await core.start();
    observer = await TestClient.connect(core.brokerUrl, [STATE_TOPIC]);
  }, 60_000);

  afterAll(async () => {
    for (const m of mappers) await m.stop();
    await observer?.close();
    await core?.stop();
    await device?.close();
    tmp.cleanup();
  }, 60_000);

  it('reports the conflict with both client ids, and keeps the device online while readings arrive', async () => {
    const mapper = (devices: string): Promise<RunningCli> =>
      spawnCli(['mapper', 'modbus', '--broker', core.brokerUrl, '--devices', path.join(tmp.dir, devices), '-t', '300', '--log-level', 'warn'], READY);
    const good = await mapper('devices');
    mappers.push(good);
    await eventually(async () => (core.twin.get(ID)?.state === 'online' && core.twin.get(ID)?.twins.temperature?.actual ? true : undefined), 30_000);

    // The second mapper cannot reach the device: after mappers.offlineAfter failed polls it says offline.
    const offline = observer.next(STATE_TOPIC, (j) => j.state === 'offline', 30_000);
    const bad = await mapper('wrong');
    mappers.push(bad);
    await offline;
    // The first mapper's next readings (re-reported every reportCycle, 1 s) bring the state back.
    await eventually(async () => (core.twin.get(ID)?.state === 'online' ? true : undefined), 30_000);
    device.sim.set('temperature', 31.5);
    await eventually(async () => (core.twin.get(ID)?.twins.temperature?.actual?.value === '31.5' ? true : undefined), 30_000);
    expect(core.twin.get(ID)?.state).toBe('online');

    const conflicts = await eventually(async () => {
      const found = logs.filter((l) => l.code === 'EDGETWIN_ERR_MAPPER_CONFLICT');
      return found.length > 0 ? found : undefined;
    }, 30_000);
    expect(conflicts).toHaveLength(1); // once per window (a minute), not once per message
    expect(conflicts[0]).toMatchObject({ level: 40, device: ID });
    expect([...(conflicts[0]!.reporters as string[])].sort()).toEqual([`edgetwin-mapper-modbus-${good.child.pid}`, `edgetwin-mapper-modbus-${bad.child.pid}`].sort());
    expect(String(conflicts[0]!.msg)).toContain('run one mapper per device');

    const metrics = await (await fetch(`${core.metricsUrl}/metrics`)).text();
    expect(metrics).toContain(`edgetwin_mapper_conflicts_total{device="${ID}"} 1`);
  }, 120_000);
});
