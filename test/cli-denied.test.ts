// What the `edgetwin` command says when the broker refuses it (docs/security.md, "How a refusal
// looks"): a read-only user running `twin set`, a user asking for a device outside its scope, a
// mapper given another protocol's device — each exits 1 with `error EDGETWIN_ERR_ACCESS_DENIED:`
// and a sentence naming the user and the topic, never a stack trace or a timeout. Real
// processes: `edgetwin run` with a users file, the CLI, `edgetwin mapper modbus`.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../eventbus/index.js';
import { silentLogger } from '../edgecore/index.js';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BUILT, edgeArgs, runCli, spawnEdge, type RunningEdge } from './process.js';
import { deviceManifest, writeUsers } from './security-rig.js';

/** No stack trace, no timeout blamed: one `error CODE: sentence` line and exit 1. */
function deniedCleanly(r: { code: number | null; stderr: string }): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error EDGETWIN_ERR_ACCESS_DENIED: /m);
  expect(r.stderr).not.toMatch(/^ +at |EDGETWIN_ERR_TIMEOUT|EDGETWIN_ERR_INTERNAL/m);
}

describe.skipIf(!BUILT)('the CLI and mappers refused by the broker', () => {
  const tmp = tempDir('edgetwin-denied-');
  let edge: RunningEdge;
  const url = (user: string): string => `mqtt://${user}:pw@127.0.0.1:${edge.port}`;

  beforeAll(async () => {
    const usersFile = path.join(tmp.dir, 'users.yaml');
    await writeUsers(usersFile, {
      dash: { role: 'app', password: 'pw' },
      operator: { role: 'writer', devices: ['default/press'], password: 'pw' },
      'ble-mapper': { role: 'mapper', protocols: ['bluetooth'], password: 'pw' },
    });
    writeManifests(path.join(tmp.dir, 'devices'), {
      'thermo.yaml': thermostatManifest(),
      'press.yaml': deviceManifest('press', 'modbus').replace('protocolName: modbus', 'protocolName: modbus\n    configData: { communicateMode: TCP, ip: 127.0.0.1, port: "1", slaveID: 1 }'),
    });
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(config, `mqtt:\n  auth:\n    usersFile: ${usersFile}\nmappers:\n  enabled: []\n`);
    edge = await spawnEdge(['--config', config, ...edgeArgs(tmp.dir), '--no-metrics']);
  });

  afterAll(async () => {
    await edge?.stop();
    tmp.cleanup();
  });

  it('a read-only (app) user running twin set is told it may not, and nothing is set', async () => {
    const r = await runCli(['twin', 'set', 'default/thermo', 'setpoint=21', '-b', url('dash'), '-t', '10000']);
    deniedCleanly(r);
    expect(r.stderr).toContain('dash may not publish to $hw/events/device/default/thermo/twin/update: role app may not publish twin/update');
    const get = await runCli(['twin', 'get', 'default/thermo', '-b', url('dash')]);
    expect(get.code).toBe(0); // reading is what an app may do
    expect(JSON.parse(get.stdout).twin.setpoint).toBeUndefined();
  }, 60_000);

  it('a writer setting a device outside its list is refused by name', async () => {
    const r = await runCli(['twin', 'set', 'default/thermo', 'setpoint=21', '-b', url('operator')]);
    deniedCleanly(r);
    expect(r.stderr).toContain('user "operator" may not subscribe to $hw/events/device/default/thermo/twin/update/result');
    const ok = await runCli(['twin', 'set', 'default/press', 'setpoint=21', '-b', url('operator')]);
    expect(ok.code).toBe(0);
  });

  it('a twin watch outside the user\'s devices exits 1 with the refusal (it used to print it and exit 0)', async () => {
    const r = await runCli(['twin', 'watch', 'default/thermo', '-b', url('operator')]);
    deniedCleanly(r);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it("a mapper reading another protocol's device is refused, not an internal subscribe error", async () => {
    const r = await runCli(['twin', 'get', 'default/press', '-b', url('ble-mapper')]);
    deniedCleanly(r);
    expect(r.stderr).toContain('user "ble-mapper" may not subscribe to $hw/events/device/default/press/twin/get/result');
    expect(r.stderr).not.toContain(':pw@'); // the URL in the sentence has its password hidden
  });

  it("an out-of-process mapper given another protocol's device names it and exits", async () => {
    const r = await runCli(['mapper', 'modbus', '--devices', path.join(tmp.dir, 'devices', 'press.yaml'), '-b', url('ble-mapper'), '--log-level', 'error'], 30_000);
    deniedCleanly(r);
    expect(r.stderr).toContain('error EDGETWIN_ERR_ACCESS_DENIED: no device could be mapped (1 of 1 refused, each logged above)');
    // The worker's own report, one log line per device (on stderr), carries the code, the device
    // id and the reason; the reason is printed there only, once.
    const reason = 'device default/press not mapped: user "ble-mapper" may not subscribe to $hw/events/device/default/press/twin/update/delta';
    const line = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.code === 'EDGETWIN_ERR_ACCESS_DENIED');
    expect(line).toMatchObject({ device: 'default/press', module: 'mappers' });
    expect(String(line?.msg)).toContain(reason);
    const said = r.stderr.split('\n').map((l) => (l.startsWith('{') ? String((JSON.parse(l) as { msg?: unknown }).msg) : l));
    expect(said.filter((l) => l.includes(reason))).toHaveLength(1);
  }, 60_000);
});

describe.skipIf(!BUILT)('the CLI when nothing answers', () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = new EmbeddedBroker({ port: 0, logger: silentLogger() }); // a broker, but no twin behind it
    await broker.start();
  });
  afterAll(async () => broker?.close());

  it.each([['get'], ['set']])('twin %s times out with its code, not a stack trace', async (verb) => {
    const r = await runCli(['twin', verb, 'default/thermo', ...(verb === 'set' ? ['setpoint=21'] : []), '-b', broker.url, '-t', '500']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_TIMEOUT: no answer on \$hw\/events\/device\/default\/thermo\/twin\/(get|update)\/result within 500 ms/);
    expect(r.stderr).not.toMatch(/^ +at /m);
  });
});
