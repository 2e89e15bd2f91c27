// The command line as a person meets it: `edgetwin devices`, `twin get` as a table, `twin watch`
// one line per change, `twin set --wait` closing the loop. A real `edgetwin run` (compiled),
// its in-process Modbus mapper, a simulated Modbus thermostat on a real TCP port whose faults
// the test switches, a Modbus device nothing answers for, and a device no mapper serves.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './async.js';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BIN, BUILT, edgeArgs, runCli, spawnEdge, type RunningEdge } from './process.js';
import { startThermostatSim, thermostatOnModbus, type ThermostatSim } from './thermostat-sim.js';

/** A TCP port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Summary {
  id: string;
  protocol?: string;
  model?: string;
  state: string;
  lastSeen?: number;
  openDeltas?: number;
  failedAcks?: number;
}

describe.skipIf(!BUILT)('edgetwin devices, twin get|watch|set --wait for people', () => {
  const tmp = tempDir();
  let sim: ThermostatSim;
  let edge: RunningEdge;
  const cli = (args: readonly string[], timeoutMs?: number) => runCli([...args, '-b', edge.url], timeoutMs);
  const devices = async (): Promise<Map<string, Summary>> => {
    const r = await cli(['devices', '--node', 'edge-test']);
    expect(r.code, r.stderr).toBe(0);
    return new Map(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Summary).map((s) => [s.id, s]));
  };

  beforeAll(async () => {
    sim = await startThermostatSim('boiler');
    writeManifests(path.join(tmp.dir, 'devices'), {
      'boiler.yaml': thermostatOnModbus(sim.port, 'boiler'),
      'dead.yaml': thermostatOnModbus(await closedPort(), 'dead'),
      'meter.yaml': thermostatManifest('meter'), // protocol "external": no mapper here
    });
    // Short device deadlines: a dead device is reported failed within a second or two.
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(config, 'mappers:\n  timeoutMs: 200\n  offlineAfter: 1\n');
    edge = await spawnEdge(['--config', config, ...edgeArgs(tmp.dir)]);
    // Online once the mapper's first poll has read the simulator.
    await eventually(async () => ((await devices()).get('default/boiler')?.state === 'online' ? true : undefined), 20_000);
  }, 60_000);

  afterAll(async () => {
    await edge?.stop();
    await sim?.close();
    tmp.cleanup();
  });

  it('devices (piped): one JSON line per device with id, protocol, model, state, last seen, open deltas, failed acks', async () => {
    expect((await cli(['twin', 'set', 'default/meter', 'setpoint=30'])).code).toBe(0);
    const all = await devices();
    expect([...all.keys()]).toEqual(['default/boiler', 'default/dead', 'default/meter']);
    expect(all.get('default/boiler')).toMatchObject({ protocol: 'modbus', model: 'thermostat', state: 'online', openDeltas: 0, failedAcks: 0 });
    expect(all.get('default/boiler')?.lastSeen).toEqual(expect.any(Number));
    // The desired value is open: no mapper writes it.
    expect(all.get('default/meter')).toMatchObject({ protocol: 'external', state: 'unknown', openDeltas: 1, failedAcks: 0 });
    expect(all.get('default/meter')?.lastSeen).toBeUndefined();
  });

  it('devices --no-json: an aligned table, one line per device', async () => {
    const r = await cli(['devices', '--node', 'edge-test', '--no-json']);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^DEVICE +PROTOCOL +STATE +LAST SEEN +OPEN DELTAS +FAILED ACKS$/);
    expect(rows).toHaveLength(3);
    // Every column starts where its header does.
    for (const column of ['PROTOCOL', 'STATE', 'LAST SEEN', 'OPEN DELTAS', 'FAILED ACKS']) {
      const at = header!.indexOf(column);
      for (const row of rows) expect(row[at - 1], `${column} in ${row}`).toBe(' ');
      for (const row of rows) expect(row[at], `${column} in ${row}`).not.toBe(' ');
    }
    expect(rows.find((l) => l.startsWith('default/boiler'))).toMatch(/^default\/boiler +modbus +online +\d+[smhd] ago +0 +0$/);
    expect(rows.find((l) => l.startsWith('default/meter'))).toMatch(/^default\/meter +external +unknown +never +1 +0$/);
  });

  it("devices -c takes the node's name from its config file", async () => {
    const file = path.join(tmp.dir, 'node.yaml');
    writeFileSync(file, 'nodeName: edge-test\n');
    const r = await cli(['devices', '-c', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('devices names the node to ask when it gets no answer', async () => {
    const r = await cli(['devices', '--node', 'other-node', '-t', '500']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_TIMEOUT: no answer on \$hw\/events\/node\/other-node\/membership\/get\/result within 500 ms.*--node <name>/m);
  });

  it('twin get --no-json: a table of property, reported (with its unit), desired, ack, age', async () => {
    const r = await cli(['twin', 'get', 'default/boiler', '--no-json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PROPERTY +REPORTED +DESIRED +ACK +AGE$/);
    expect(lines.find((l) => l.startsWith('temperature'))).toMatch(/^temperature +-?[\d.]+ Celsius +- +- +\d+[smhd]$/);
    expect(lines).toHaveLength(3); // temperature and setpoint: the two properties the manifest maps
  });

  it('twin get on a terminal prints the table without being asked', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('script', ['-qec', `${process.execPath} ${BIN} twin get default/boiler -b ${edge.url}`, '/dev/null'], { encoding: 'utf8' });
    expect(out).toMatch(/^PROPERTY +REPORTED +DESIRED +ACK +AGE\r?$/m);
  });

  it('twin get piped prints the twin/get answer as before: indented JSON, no extra key', async () => {
    const r = await cli(['twin', 'get', 'default/boiler']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('{\n  "event_id": ')).toBe(true);
    expect(Object.keys(JSON.parse(r.stdout) as object)).toEqual(['event_id', 'timestamp', 'twin', 'version']);
  });

  it('twin watch --no-json prints one compact line per change', async () => {
    const watch = cli(['twin', 'watch', 'default/boiler', '--no-json', '--count', '1']);
    let done = false;
    void watch.then(() => (done = true));
    // The watcher subscribes within a moment; keep changing the setpoint until it has seen one.
    for (let v = 10; !done && v < 30; v++) await cli(['twin', 'set', 'default/boiler', `setpoint=${v}`]);
    const r = await watch;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (setpoint desired=\d+(, setpoint ack=pending)?|setpoint=\d+(, setpoint ack=applied)?)\n$/);
  });

  it('twin set --wait exits 0 once the mapper acks the value applied', async () => {
    const r = await cli(['twin', 'set', 'default/boiler', 'setpoint=22.5', '--wait', '--no-json', '-t', '20000'], 30_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^default\/boiler version \d+: setpoint desired=22\.5 \((pending|applied)\)\nsetpoint=22\.5 applied\n$/);
    expect(sim.sim.get('setpoint')).toBe(22.5); // written to the unit's registers
  });

  it('twin set --wait exits 1 with the ack code when the device refuses the value', async () => {
    // The unit answers every write to its holding registers with exception 3 (illegal data value).
    const lift = sim.sim.faults.exceptionAt(0, 3, { table: 'HoldingRegister', fc: 16 });
    try {
      const r = await cli(['twin', 'set', 'default/boiler', 'setpoint=23', '--wait', '-t', '20000'], 30_000);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ twin: { setpoint: { expected: { value: '23' } } } }); // piped: the result, as without --wait
      expect(r.stderr).toMatch(/^error EDGETWIN_ERR_MODBUS_EXCEPTION: setpoint=23 rejected by the mapper: .*illegal data value \(3\)/m);
      expect(r.stderr.trim().split('\n')).toHaveLength(1); // said once
      expect((await devices()).get('default/boiler')).toMatchObject({ openDeltas: 1, failedAcks: 1 });
    } finally {
      lift();
    }
  }, 40_000);

  it('twin set --wait exits 1 with the ack code when the device cannot be reached', async () => {
    const r = await cli(['twin', 'set', 'default/dead', 'setpoint=21', '--wait', '-t', '30000'], 40_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error (?:EDGETWIN_ERR_MAPPER_CONNECTION|EDGETWIN_ERR_MAPPER_UNAVAILABLE|EDGETWIN_ERR_MAPPER_TIMEOUT): setpoint=21 failed by the mapper: /m);
  }, 50_000);

  it('twin set --wait exits 1 with EDGETWIN_ERR_ACK_TIMEOUT when no mapper acks', async () => {
    const r = await cli(['twin', 'set', 'default/meter', 'setpoint=30', '--wait', '-t', '1000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_ACK_TIMEOUT: setpoint=30 still pending after 1000 ms/m);
  });

  it('twin set --wait --actual is a usage error', async () => {
    const r = await cli(['twin', 'set', 'default/meter', 'temperature=3', '--actual', '--wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error EDGETWIN_ERR_CLI_USAGE');
  });
});
