// Mapper plugins end to end (docs/writing-a-mapper.md, "Plugins"): packages written to a temp
// dir load into a real EdgeCore through `mappers.plugins` (a path, and a package name resolved
// from the config file's folder), their devices get readings over MQTT, their simulator serves
// `simulate:` entries; plugins that throw on import, export the wrong thing or carry a schema
// that does not compile are reported with their codes while the node serves on; and the same
// package runs out of process with `edgetwin mapper --plugin`.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { EdgeCore, silentLogger, type StartupReport } from '../edgecore/index.js';
import { MqttBus } from '../eventbus/index.js';
import { loadPlugin, ProtocolRegistry, loadPlugins } from '../mappers/index.js';
import { loadConfigFile, resolveConfig } from '../schemas/index.js';
import { eventually, tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { counterDevice, PLUGIN_SOURCES, writePlugin } from './plugin-fixtures.js';
import { BUILT, edgeArgs, spawnCli, spawnEdge, type RunningCli, type RunningEdge } from './process.js';

describe('mapper plugins in edgetwin run', () => {
  const tmp = tempDir();
  let core: EdgeCore;
  let report: StartupReport;
  let bus: MqttBus;
  let twins: TwinClient;

  beforeAll(async () => {
    // One plugin installed as a package beside the config file, the broken ones as paths.
    writePlugin(tmp.dir, 'edgetwin-plugin-counter', PLUGIN_SOURCES.counter, true);
    const throws = writePlugin(tmp.dir, 'throws', PLUGIN_SOURCES.throws);
    const wrong = writePlugin(tmp.dir, 'wrong-export', PLUGIN_SOURCES.wrongExport);
    const bad = writePlugin(tmp.dir, 'bad-schema', PLUGIN_SOURCES.badSchema);
    writeManifests(path.join(tmp.dir, 'devices'), { 'counter.yaml': counterDevice(path.join(tmp.dir, 'hw-1.json'), 'counter-1', 10), 'plain.yaml': thermostatManifest('plain') });
    const file = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(
      file,
      [
        'nodeName: edge-test',
        'dataDir: ./data',
        'devices: [./devices]',
        'simulate: [default/counter-1]',
        'mappers:',
        '  enabled: [modbus, countr]',
        `  plugins: [edgetwin-plugin-counter, ./${path.basename(throws)}, ${wrong}, ./${path.basename(bad)}, edgetwin-plugin-missing]`,
        'http: { enabled: false }',
        '',
      ].join('\n'),
    );
    core = new EdgeCore({ config: resolveConfig(loadConfigFile(file), { mqtt: { port: 0 } }), logger: silentLogger() });
    report = await core.start();
    bus = new MqttBus({ url: core.brokerUrl });
    await bus.start();
    twins = new TwinClient(bus);
  }, 60_000);

  afterAll(async () => {
    await bus?.close();
    await core?.stop();
    tmp.cleanup();
  });

  it("maps the plugin's device in-process: readings from its simulator reach the twin over MQTT", async () => {
    const twin = await eventually(async () => {
      const t = (await twins.get('default/counter-1')).twin;
      return t.temperature?.actual?.value !== undefined ? t : undefined;
    });
    // base 10 (protocol config) + 21.5 (the simulated hardware's channel `temp`).
    expect(twin.temperature!.actual!.value).toBe('31.5');
    expect(twin.temperature!.metadata?.type).toBe('float');
  });

  it("writes a desired value through the plugin's driver (closed loop)", async () => {
    await twins.setDesired('default/counter-1', { setpoint: '25' });
    const t = await eventually(async () => {
      const tw = (await twins.get('default/counter-1')).twin;
      return tw.setpoint?.ack?.state === 'applied' ? tw : undefined;
    });
    expect(t.setpoint!.actual!.value).toBe('25');
  });

  it('reports each broken plugin and the unknown protocol with its code, and serves on', async () => {
    const codes = report.problems.map((p) => [p.code, p.message] as const);
    const find = (text: string) => codes.find(([, m]) => m.includes(text))?.[0];
    expect(find('throws')).toBe('EDGETWIN_ERR_PLUGIN_LOAD');
    expect(find(path.join(tmp.dir, 'wrong-export'))).toBe('EDGETWIN_ERR_PLUGIN_INVALID');
    expect(find('bad-schema')).toBe('EDGETWIN_ERR_PLUGIN_INVALID');
    expect(find('edgetwin-plugin-missing')).toBe('EDGETWIN_ERR_PLUGIN_LOAD');
    expect(find('"countr"')).toBe('EDGETWIN_ERR_MAPPER_UNKNOWN');
    expect(codes.find(([, m]) => m.includes('"countr"'))?.[1]).toContain('did you mean "counter"?');
    // The node serves its other devices.
    const plain = await twins.get('default/plain');
    expect(plain.twin).toBeDefined();
    expect(core.mapperStatus().map((s) => [s.id, s.protocol])).toContainEqual(['default/counter-1', 'counter']);
  });
});

describe('the plugin loader', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('refuses a plugin whose protocol a bundled mapper already provides', async () => {
    const dir = writePlugin(tmp.dir, 'fake-modbus', PLUGIN_SOURCES.counter.replace("protocol: 'counter'", "protocol: 'modbus'"));
    const load = await loadPlugins([dir], new ProtocolRegistry());
    expect(load.entries).toEqual([]);
    expect(load.problems.map((p) => p.code)).toEqual(['EDGETWIN_ERR_PLUGIN_INVALID']);
    expect(load.problems[0]!.message).toContain('already provided by a bundled mapper');
  });

  it('names every problem of a wrong default export', async () => {
    const dir = writePlugin(tmp.dir, 'half', "export default { factory: { protocol: 'Bad_Name', protocolConfigSchema: {}, connect: 1 }, simulator: {} };\n");
    const err = await loadPlugin(dir).then(
      () => expect.unreachable('loaded'),
      (e: unknown) => e as Error & { code: string },
    );
    expect(err.code).toBe('EDGETWIN_ERR_PLUGIN_INVALID');
    for (const part of ['factory.protocol', 'factory.visitorConfigSchema', 'factory.connect', 'simulator']) expect(err.message).toContain(part);
  });
});

/** The counter device's reading reaches the twin, and a desired setpoint comes back applied. */
async function readsAndApplies(url: string, id: string, setpoint: string): Promise<void> {
  const bus = new MqttBus({ url });
  await bus.start();
  try {
    const twins = new TwinClient(bus);
    const twin = await eventually(async () => {
      const t = (await twins.get(id)).twin;
      return t.temperature?.actual?.value !== undefined ? t : undefined;
    });
    expect(twin.temperature!.actual!.value).toBe('26.5');
    await twins.setDesired(id, { setpoint });
    const applied = await eventually(async () => {
      const t = (await twins.get(id)).twin;
      return t.setpoint?.ack?.state === 'applied' ? t : undefined;
    }, 30_000);
    expect(applied.setpoint!.actual!.value).toBe(setpoint);
  } finally {
    await bus.close();
  }
}

describe.skipIf(!BUILT)('edgetwin mapper --plugin: the same package out of process', () => {
  const tmp = tempDir();
  let edge: RunningEdge;
  let mapper: RunningCli;
  let sim: RunningCli;

  beforeAll(async () => {
    const plugin = writePlugin(tmp.dir, 'counter', PLUGIN_SOURCES.counter);
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, { 'counter.yaml': counterDevice(path.join(tmp.dir, 'hw-2.json'), 'counter-2', 5) });
    edge = await spawnEdge([...edgeArgs(tmp.dir, devices)]);
    // The simulated hardware (a file) first, then the mapper process reading it.
    sim = await spawnCli(['simulate', '--plugin', plugin, '--device', path.join(devices, 'counter.yaml'), '--log-level', 'warn'], /simulator ready: counter: 1 simulated counters/);
    mapper = await spawnCli(['mapper', '--plugin', plugin, '--broker', edge.url, '--devices', devices, '--log-level', 'warn'], /mapper counter ready: (\d+) devices/);
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
    await mapper?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  it('maps the plugin device over MQTT: readings reach the twin, a desired value is applied', async () => {
    expect(mapper.match[1]).toBe('1');
    await readsAndApplies(edge.url, 'default/counter-2', '30');
  });
});

describe.skipIf(!BUILT)('edgetwin mapper --plugin --dmi-socket: the same package as a KubeEdge DMI mapper', () => {
  const tmp = tempDir();
  let edge: RunningEdge;
  let mapper: RunningCli;
  let sim: RunningCli;

  beforeAll(async () => {
    const plugin = writePlugin(tmp.dir, 'counter', PLUGIN_SOURCES.counter);
    const devices = path.join(tmp.dir, 'devices');
    // Over DMI a mapper reports what is `reportToCloud` (as mapper-framework does, docs/dmi.md).
    const manifest = counterDevice(path.join(tmp.dir, 'hw-3.json'), 'counter-3', 5).replaceAll('      reportCycle: 100\n', '      reportCycle: 100\n      reportToCloud: true\n');
    writeManifests(devices, { 'counter.yaml': manifest });
    const dmi = path.join(tmp.dir, 'dmi.sock');
    // edgetwin as edgecore: it does not load the plugin, it hands the device to the DMI mapper.
    edge = await spawnEdge([...edgeArgs(tmp.dir, devices), '--no-http', '--dmi-socket', dmi]);
    sim = await spawnCli(['simulate', '--plugin', plugin, '--device', path.join(devices, 'counter.yaml'), '--log-level', 'warn'], /simulator ready: counter: 1 simulated counters/);
    mapper = await spawnCli(['mapper', '--plugin', plugin, '--dmi-socket', dmi, '--mapper-socket', path.join(tmp.dir, 'counter.sock'), '--log-level', 'warn'], /mapper counter ready: (\d+) devices via DMI/);
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
    await mapper?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  it('registers, takes its device from edgetwin, reports readings and applies a desired value', async () => {
    expect(mapper.match[1]).toBe('1');
    await readsAndApplies(edge.url, 'default/counter-3', '31');
  });
});
