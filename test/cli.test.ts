// The `edgetwin` command as a user runs it: real processes, real exit codes, real output.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { resolveConfig } from '../schemas/index.js';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BUILT, runCli, edgeArgs, spawnEdge, type RunningEdge } from './process.js';

describe.skipIf(!BUILT)('edgetwin run and twin get|set|watch', () => {
  const tmp = tempDir();
  let edge: RunningEdge;

  beforeAll(async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    // No config file: the flags alone are enough.
    edge = await spawnEdge(edgeArgs(tmp.dir));
  });

  afterAll(async () => {
    await edge?.stop();
    tmp.cleanup();
  });

  it('prints one ready line with the broker URL', () => {
    expect(edge.readyLine).toMatch(/^edgetwin ready: broker mqtt:\/\/127\.0\.0\.1:\d+, node edge-test, 1 devices, 3 models, store .*edgetwin\.db, auth: anonymous from loopback only \(admin\)(, http http:\/\/127\.0\.0\.1:\d+)?$/);
  });

  it('twin set sets desired values and twin get shows them', async () => {
    const set = await runCli(['twin', 'set', 'default/thermo', 'setpoint=21.5', 'mode=heat', '--broker', edge.url]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ twin: { setpoint: { expected: { value: '21.5' } }, mode: { expected: { value: 'heat' } } } });
    const get = await runCli(['twin', 'get', 'default/thermo', '-b', edge.url]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout).twin).toMatchObject({ setpoint: { expected: { value: '21.5' }, ack: { state: 'pending' } } });
  });

  it('twin set --actual reports values as a mapper would', async () => {
    const r = await runCli(['twin', 'set', 'default/thermo', 'temperature=19.25', '--actual', '-b', edge.url]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).twin.temperature.actual.value).toBe('19.25');
  });

  it('twin watch prints documents and deltas as JSON lines', async () => {
    const watch = runCli(['twin', 'watch', 'default/thermo', '--count', '2', '-b', edge.url]);
    // The watcher subscribes within a moment; keep updating until it has seen two events.
    let value = 10;
    let done = false;
    void watch.then(() => (done = true));
    while (!done && value < 30) {
      await runCli(['twin', 'set', 'default/thermo', `setpoint=${value++}`, '-b', edge.url]);
    }
    const r = await watch;
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.kind).every((k) => ['document', 'delta', 'result'].includes(k))).toBe(true);
  });

  it.each([
    [['twin', 'set', 'default/thermo', 'setpoint=99'], 1, 'EDGETWIN_ERR_MODEL_VALIDATION'],
    [['twin', 'set', 'default/thermo', 'temperature=20'], 1, 'EDGETWIN_ERR_PROPERTY_READ_ONLY'],
    [['twin', 'get', 'default/missing'], 1, 'EDGETWIN_ERR_DEVICE_NOT_FOUND'],
    [['twin', 'set', 'default/thermo', 'setpoint'], 2, 'EDGETWIN_ERR_CLI_USAGE'],
    [['twin', 'get', 'Not_A/Device'], 2, 'EDGETWIN_ERR_CLI_USAGE'],
  ])('%j exits %i with %s', async (args, code, errorCode) => {
    const r = await runCli([...args, '-b', edge.url]);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(`error ${errorCode}`);
  });
});

describe.skipIf(!BUILT)('edgetwin command errors', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('refuses a config that fails its schema, listing every error, before anything starts', async () => {
    const file = path.join(tmp.dir, 'bad.yaml');
    writeFileSync(file, 'nodeName: Not_Valid\nmqtt:\n  port: 70000\n  colour: blue\nstore:\n  synchronous: sometimes\n');
    const r = await runCli(['run', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('ready');
    expect(r.stderr).toContain('EDGETWIN_ERR_CONFIG_INVALID');
    for (const where of ['/nodeName', '/mqtt/port', '/mqtt', '/store/synchronous']) expect(r.stderr).toContain(where);
  });

  it('reports a missing config file with its code', async () => {
    const r = await runCli(['run', '--config', path.join(tmp.dir, 'nope.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('EDGETWIN_ERR_FILE_READ');
  });

  it('reports an unreachable broker with its code', async () => {
    const r = await runCli(['twin', 'get', 'default/x', '-b', 'mqtt://127.0.0.1:1', '-t', '2000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('EDGETWIN_ERR_BROKER_CONNECT');
  });

  it('reports a port already in use with its code', async () => {
    const first = await spawnEdge(['--data-dir', path.join(tmp.dir, 'a'), '--mqtt-port', '0', '--log-level', 'silent']);
    try {
      const r = await runCli(['run', '--data-dir', path.join(tmp.dir, 'b'), '--mqtt-port', String(first.port), '--log-level', 'silent']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('EDGETWIN_ERR_BROKER_LISTEN');
    } finally {
      await first.stop();
    }
  });

  it('an unknown command is a usage error (exit 2)', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('EDGETWIN_ERR_CLI_USAGE');
  });

  it('shuts down cleanly on SIGINT', async () => {
    const edge = await spawnEdge(['--data-dir', path.join(tmp.dir, 'c'), '--mqtt-port', '0', '--log-level', 'silent']);
    expect(await edge.stop('SIGINT')).toBe(0);
    expect(edge.output().stdout).toContain('edgetwin stopped');
  });
});

describe('start-up with bad models and manifests', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('skips what is invalid, reports each with a code, and loads the rest', async () => {
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, {
      'good.yaml': thermostatManifest('good'),
      'unknown-model.yaml': thermostatManifest('orphan').replace('name: thermostat', 'name: no-such-model'),
      'bad-shape.yaml': 'apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata:\n  name: Bad_Name\nspec: {}\n',
    });
    const models = path.join(tmp.dir, 'models');
    writeManifests(models, { 'broken.json': JSON.stringify({ title: 'broken', type: 'object', properties: { x: { type: 'number', minimum: 'low' } } }) });
    const core = new EdgeCore({
      config: resolveConfig({ dataDir: path.join(tmp.dir, 'data'), devices: [devices], models: [models], mqtt: { port: 0 } }),
      logger: silentLogger(),
    });
    const report = await core.start();
    try {
      expect(core.twin.list().map((e) => e.instance.id)).toEqual(['default/good']);
      const codes = report.problems.map((p) => p.code).sort();
      expect(codes).toEqual(['EDGETWIN_ERR_MANIFEST_INVALID', 'EDGETWIN_ERR_MODEL_INVALID', 'EDGETWIN_ERR_MODEL_UNKNOWN']);
      const modelError = report.problems.find((p) => p.code === 'EDGETWIN_ERR_MODEL_INVALID')!;
      expect(modelError.message).toContain('broken.json');
      expect(modelError.message).toContain('/properties/x/minimum');
    } finally {
      await core.stop();
    }
  });
});
