// `edgetwin check` and `edgetwin run --strict`, as a user runs them: real processes, real files.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BUILT, runCli, spawnEdge } from './process.js';

/** A Modbus device of the bundled thermostat model, with `edit` applied to its YAML. */
function modbusDevice(name: string, port = 1502, edit: (yaml: string) => string = (y) => y): string {
  return edit(`apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: thermostat }
  protocol:
    protocolName: modbus
    configData: { communicateMode: TCP, ip: 127.0.0.1, port: "${port}", slaveID: 1 }
  properties:
    - name: temperature
      visitors: { protocolName: modbus, configData: { register: InputRegister, offset: 0, limit: 2, dataType: float, isSwap: false } }
    - name: setpoint
      visitors: { protocolName: modbus, configData: { register: HoldingRegister, offset: 0, limit: 2, dataType: float } }
`);
}

describe.skipIf(!BUILT)('edgetwin check', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  // Each broken on purpose, one way each.
  const bad = path.join(tmp.dir, 'bad');
  writeManifests(bad, {
    'a-model-typo.yaml': modbusDevice('a', 1502, (y) => y.replace('name: thermostat', 'name: thermostst')),
    'b-property-typo.yaml': modbusDevice('b', 1502, (y) => y.replace('- name: setpoint', '- name: setpiont')),
    'c-protocol-key-typo.yaml': modbusDevice('c', 1502, (y) => y.replace('slaveID: 1', 'slaveId: 1')),
    'd-visitor-key-typo.yaml': modbusDevice('d', 1502, (y) => y.replace('isSwap: false', 'isSwapp: false')),
    'e-spec-key-typo.yaml': modbusDevice('e', 1502, (y) => y.replace('  protocol:', '  protocl:')),
  });

  it('a clean config (the demo) passes: exit 0', async () => {
    const r = await runCli(['check', '--config', path.join(REPO, 'examples', 'edgetwin.yaml')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toBe('edgetwin check: ok: 4 models, 5 devices, no problems\n');
    expect(r.stderr).toBe('');
  });

  it('prints every problem once, with its code and a "did you mean", and exits 1', async () => {
    const r = await runCli(['check', '--devices', bad]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^problem EDGETWIN_ERR_MODEL_UNKNOWN: Device manifest .*a-model-typo\.yaml \(document 0\): \/spec\/deviceModelRef\/name model "thermostst" is not loaded; did you mean "thermostat"\?$/),
      expect.stringMatching(/^problem EDGETWIN_ERR_MANIFEST_INVALID: .*b-property-typo\.yaml .*property "setpiont" is not in model "thermostat"; did you mean "setpoint"\?$/),
      expect.stringMatching(/^problem EDGETWIN_ERR_MANIFEST_INVALID: .*e-spec-key-typo\.yaml .*\/spec\/protocl is not an allowed key; did you mean "protocol"\?$/),
      expect.stringMatching(/^problem EDGETWIN_ERR_MAPPER_CONFIG: device default\/c not mapped: its configuration is not valid for the modbus mapper \(.*unknown key "slaveId"; did you mean "slaveID"\?\)$/),
      // A visitor key the mapper does not know is ignored by run (as KubeEdge's mappers do): a warning.
      expect.stringMatching(/^warning EDGETWIN_ERR_VISITOR_KEY_UNKNOWN: default\/d: .*visitor key "isSwapp" means nothing to the modbus mapper; ignored; did you mean "isSwap"\?$/),
    ]);
    expect(r.stderr).toBe('error EDGETWIN_ERR_STARTUP_PROBLEMS: check: 4 problems, 1 warning (listed above) in 3 models and 2 devices: `edgetwin run` would start without what they name\n');
  });

  it('--json gives the same report for scripts', async () => {
    const r = await runCli(['check', '--devices', bad, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; problems: Array<{ code: string }>; warnings: Array<{ code: string; where: string }> };
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.code)).toEqual(['EDGETWIN_ERR_MODEL_UNKNOWN', 'EDGETWIN_ERR_MANIFEST_INVALID', 'EDGETWIN_ERR_MANIFEST_INVALID', 'EDGETWIN_ERR_MAPPER_CONFIG']);
    expect(report.warnings).toMatchObject([{ code: 'EDGETWIN_ERR_VISITOR_KEY_UNKNOWN', where: 'default/d' }]);
    expect(r.stderr).toContain('(in the JSON report)');
  });

  it('refuses a model whose minimum is greater than its maximum, naming the file and the pointer', async () => {
    const models = path.join(tmp.dir, 'models');
    mkdirSync(models, { recursive: true });
    writeFileSync(path.join(models, 'boiler.json'), JSON.stringify({ title: 'boiler', type: 'object', properties: { setpoint: { type: 'number', minimum: 90, maximum: 30 } } }));
    const r = await runCli(['check', '--models', models]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^problem EDGETWIN_ERR_MODEL_INVALID: Invalid device model .*boiler\.json: \/properties\/setpoint\/minimum minimum 90 is greater than maximum 30: no value is allowed$/m);
  });

  it('suggests the config key meant, and names an unknown simulated device', async () => {
    const file = path.join(tmp.dir, 'typo.yaml');
    writeFileSync(file, 'mqtt:\n  prot: 1884\n');
    const r = await runCli(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_CONFIG_INVALID: .*\/mqtt\/prot is not an allowed key; did you mean "port"\?$/m);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);

    const sim = path.join(tmp.dir, 'sim.yaml');
    writeManifests(path.join(tmp.dir, 'sim-devices'), { 't.yaml': thermostatManifest('thermo') });
    writeFileSync(sim, `devices: [./sim-devices]\nsimulate: [default/thremo]\n`);
    const s = await runCli(['check', '--config', sim]);
    expect(s.code).toBe(1);
    expect(s.stdout).toBe('problem EDGETWIN_ERR_MANIFEST_INVALID: simulate: no loaded device default/thremo; did you mean "default/thermo"?\n');
  });

  it('checks the users file the config names', async () => {
    const file = path.join(tmp.dir, 'users.yaml');
    writeFileSync(file, 'mqtt:\n  auth:\n    usersFile: ./no-such-users.yaml\n');
    const r = await runCli(['check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^problem EDGETWIN_ERR_USERS_FILE: .*no-such-users\.yaml/m);
  });
});

describe.skipIf(!BUILT)('edgetwin run --strict', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const devices = path.join(tmp.dir, 'devices');
  writeManifests(devices, {
    'good.yaml': thermostatManifest('good'),
    'typo.yaml': thermostatManifest('typo').replace('name: thermostat', 'name: thermostst'),
  });
  const args = (data: string): string[] => ['--data-dir', path.join(tmp.dir, data), '--devices', devices, '--mqtt-port', '0', '--no-metrics', '--log-level', 'warn'];

  it('without it, the node starts without what is broken (and says how many)', async () => {
    const edge = await spawnEdge(args('plain'));
    try {
      expect(edge.readyLine).toContain('1 devices, 3 models, 1 skipped (see log)');
    } finally {
      await edge.stop();
    }
  });

  it('with it, the node refuses to start: every problem listed once, nothing opened', async () => {
    const r = await runCli(['run', '--strict', ...args('strict')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^problem EDGETWIN_ERR_MODEL_UNKNOWN: .*typo\.yaml .*did you mean "thermostat"\?$/),
      expect.stringMatching(/^error EDGETWIN_ERR_STARTUP_PROBLEMS: run --strict: 1 problem \(listed above\) in 3 models and 1 device: nothing was started/),
    ]);
    expect(existsSync(path.join(tmp.dir, 'strict'))).toBe(false); // no store, no data dir
  });

  it('config strict: true does the same', async () => {
    const file = path.join(tmp.dir, 'strict.yaml');
    writeFileSync(file, 'strict: true\n');
    const r = await runCli(['run', '--config', file, ...args('strict-config')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error EDGETWIN_ERR_STARTUP_PROBLEMS: run --strict');
  });

  it('a problem only starting can find (a simulated device whose port is taken) stops it too', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as net.AddressInfo;
      const dir = path.join(tmp.dir, 'sim-devices');
      writeManifests(dir, { 'sim.yaml': modbusDevice('sim', port) });
      const file = path.join(tmp.dir, 'sim.yaml');
      writeFileSync(file, 'simulate: [default/sim]\n');
      const r = await runCli(['run', '--strict', '--config', file, '--data-dir', path.join(tmp.dir, 'sim-data'), '--devices', dir, '--mqtt-port', '0', '--no-metrics', '--log-level', 'warn', '--log-format', 'json']);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toContain('ready');
      const logged = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { code?: string; msg: string });
      expect(logged.filter((l) => l.code === 'EDGETWIN_ERR_MAPPER_CONNECTION' && l.msg.includes(`cannot listen on 127.0.0.1:${port}`))).toHaveLength(1);
      expect(r.stderr).toMatch(/^error EDGETWIN_ERR_STARTUP_PROBLEMS: run --strict: 1 problem\(s\) at start-up \(EDGETWIN_ERR_MAPPER_CONNECTION, each logged above\); stopped$/m);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
