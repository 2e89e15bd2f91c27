// edgetwin's DMI mapper against edgetwin's DMI server, with the simulated Modbus thermostat:
// readings reach the twin, a desired setpoint reaches the register and comes back acked. First
// in one process, then as three processes (simulator, `edgetwin run --dmi-socket`, `edgetwin
// mapper modbus --dmi-socket`) where either side is killed with SIGKILL and restarted.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { silentLogger } from '../edgecore/index.js';
import { MqttBus } from '../eventbus/index.js';
import { TwinClient } from '../devicetwin/index.js';
import { modbusMapper, startDmiMapper, type DmiMapper } from '../mappers/index.js';
import { eventually, startEdge, tempDir, writeManifests, type TestEdge } from './helpers.js';
import { BIN, BUILT, runCli, spawnEdge, type RunningEdge } from './process.js';

const EXAMPLE = path.resolve(import.meta.dirname, '..', 'examples', 'devices', 'thermostat.yaml');

function thermostatOnPort(port: number): string {
  return readFileSync(EXAMPLE, 'utf8').replace('port: "1502"', `port: "${port}"`).replace('nodeName: edge-1', 'nodeName: edge-test');
}

/** Holding registers 0..1 (the setpoint, float32 big-endian), read by an independent Modbus client. */
async function readSetpoint(port: number): Promise<number> {
  const client = new ModbusSerial.default();
  await client.connectTCP('127.0.0.1', { port });
  try {
    return (await client.readHoldingRegisters(0, 2)).buffer.readFloatBE(0);
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
  }
}

type Twin = Record<string, { actual?: { value: string }; expected?: { value: string }; ack?: { state: string } }>;

describe('edgetwin DMI mapper ↔ edgetwin DMI server, in one process', () => {
  const tmp = tempDir('edgetwin-dmi-e2e-');
  let edge: TestEdge;
  let mapper: DmiMapper;
  let bus: MqttBus;
  let twins: TwinClient;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    edge = await startEdge(
      { 'thermostat.yaml': thermostatOnPort(port) },
      { simulate: ['default/thermostat'], mappers: { enabled: [] }, dmi: { socket: path.join(tmp.dir, 'dmi.sock') } },
      tmp.dir,
    );
    mapper = await startDmiMapper({ factory: modbusMapper, edgecoreSocket: path.join(tmp.dir, 'dmi.sock'), mapperSocket: path.join(tmp.dir, 'modbus.sock'), logger: silentLogger() });
    bus = new MqttBus({ url: edge.url });
    await bus.start();
    twins = new TwinClient(bus);
  });

  afterAll(async () => {
    await bus?.close();
    await mapper?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  it('registers and runs the devices edgetwin gives it', () => {
    expect(mapper.devices).toBe(1);
    expect(mapper.status().map((s) => s.id)).toEqual(['default/thermostat']);
  });

  it('readings reach the twin; the manifest desired values are applied and acked', async () => {
    const t = await eventually(async () => {
      const twin = (await twins.get('default/thermostat')).twin as Twin;
      return twin.temperature?.actual && ['setpoint', 'mode', 'power'].every((k) => twin[k]?.ack?.state === 'applied') ? twin : undefined;
    }, 15_000);
    expect(Number(t.temperature!.actual!.value)).toBeGreaterThanOrEqual(-40);
    expect(t.setpoint!.actual!.value).toBe('21');
    expect(await readSetpoint(port)).toBe(21);
  });

  it('a desired setpoint reaches the register and comes back acked', async () => {
    await twins.setDesired('default/thermostat', { setpoint: '23.5' });
    const t = await eventually(async () => {
      const s = ((await twins.get('default/thermostat')).twin as Twin).setpoint;
      return s?.ack?.state === 'applied' && s.expected?.value === '23.5' ? s : undefined;
    }, 15_000);
    expect(t.actual!.value).toBe('23.5');
    expect(await readSetpoint(port)).toBe(23.5);
  });

  it('device state comes from the mapper', async () => {
    await eventually(async () => (edge.core.twin.get('default/thermostat')?.state === 'online' ? true : undefined), 15_000);
  });
});

describe.skipIf(!BUILT)('three processes; kill -9 and restart of either side recovers by itself', () => {
  const tmp = tempDir('edgetwin-dmi-p-');
  const children: ChildProcess[] = [];
  const dmiSocket = path.join(tmp.dir, 'dmi.sock');
  const mapperSocket = path.join(tmp.dir, 'modbus.sock');
  let config: string;
  let edge: RunningEdge;
  let mapper: ChildProcess;
  let simPort: number;

  function start(args: string[], ready: RegExp): Promise<ChildProcess> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready: ${args.join(' ')}\n${out}\n${err}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (ready.test(out)) {
          clearTimeout(timer);
          resolve(child);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${args.join(' ')}\n${out}\n${err}`)));
    });
  }

  const startMapper = (): Promise<ChildProcess> =>
    start(['mapper', 'modbus', '--dmi-socket', dmiSocket, '--mapper-socket', mapperSocket, '--log-level', 'warn'], /mapper modbus ready: 1 devices via DMI/);

  const kill9 = async (child: ChildProcess): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };

  async function twinOf(url: string): Promise<Twin> {
    const bus = new MqttBus({ url });
    await bus.start();
    try {
      return (await new TwinClient(bus).get('default/thermostat')).twin as Twin;
    } finally {
      await bus.close();
    }
  }

  async function setDesired(url: string, value: string): Promise<void> {
    const bus = new MqttBus({ url });
    await bus.start();
    try {
      await new TwinClient(bus).setDesired('default/thermostat', { setpoint: value });
    } finally {
      await bus.close();
    }
  }

  /** The setpoint reaches the register and the twin shows it acked. */
  async function closesTheLoop(value: string): Promise<void> {
    await setDesired(edge.url, value);
    await eventually(async () => {
      const s = (await twinOf(edge.url)).setpoint;
      return s?.ack?.state === 'applied' && s.expected?.value === value && s.actual?.value === value ? true : undefined;
    }, 30_000);
    expect(await readSetpoint(simPort)).toBe(Number(value));
  }

  beforeAll(async () => {
    simPort = await freePort();
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, { 'thermostat.yaml': thermostatOnPort(simPort) });
    await start(['simulate', 'modbus', '--device', path.join(devices, 'thermostat.yaml'), '--port', String(simPort), '--seed', '3'], /simulator ready/);
    config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(config, `nodeName: edge-test\ndataDir: ./data\ndevices: [./devices]\nmappers:\n  enabled: []\nmetrics:\n  enabled: false\nlog:\n  level: warn\n`);
    // The mapper first: it waits for edgecore's socket without exiting, as mapper-framework does.
    const mapperReady = startMapper();
    edge = await spawnEdge(['--config', config, '--mqtt-port', '0', '--dmi-socket', dmiSocket]);
    children.push(edge.child);
    mapper = await mapperReady;
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    tmp.cleanup();
  });

  it('values reach the twin and a desired setpoint reaches the register', { timeout: 60_000 }, async () => {
    await eventually(async () => ((await twinOf(edge.url)).temperature?.actual ? true : undefined), 20_000);
    await closesTheLoop('19');
  });

  it('kill -9 of the mapper: its device goes offline; a restarted mapper takes over again', { timeout: 90_000 }, async () => {
    await kill9(mapper);
    await eventually(async () => {
      const r = await fetchState(edge.url);
      return r === 'offline' ? true : undefined;
    }, 30_000);
    mapper = await startMapper();
    await closesTheLoop('20.5');
  });

  it('kill -9 of edgetwin: restarted on the same data dir (stale socket replaced), the mapper registers again', { timeout: 90_000 }, async () => {
    await kill9(edge.child);
    edge = await spawnEdge(['--config', config, '--mqtt-port', '0', '--dmi-socket', dmiSocket]);
    children.push(edge.child);
    await closesTheLoop('22');
  });
});

describe.skipIf(!BUILT)('edgetwin mapper --dmi-socket on the command line', () => {
  const tmp = tempDir('edgetwin-dmi-cli-');
  afterAll(() => tmp.cleanup());

  it('a registration edgetwin refuses ends the mapper with its code (as mapper-framework exits)', { timeout: 60_000 }, async () => {
    // modbus runs in-process by default (mappers.enabled): a DMI mapper may not take it.
    const edge = await spawnEdge(['--data-dir', path.join(tmp.dir, 'data'), '--mqtt-port', '0', '--no-metrics', '--log-level', 'warn', '--dmi-socket', path.join(tmp.dir, 'dmi.sock')]);
    try {
      expect(edge.readyLine).toContain(`dmi ${path.join(tmp.dir, 'dmi.sock')}`);
      const r = await runCli(['mapper', 'modbus', '--dmi-socket', path.join(tmp.dir, 'dmi.sock'), '--log-level', 'warn'], 30_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error EDGETWIN_ERR_DMI_PROTOCOL_IN_PROCESS: /);
    } finally {
      await edge.stop();
    }
  });

  it('without --dmi-socket, --devices is required', async () => {
    const r = await runCli(['mapper', 'modbus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_CLI_USAGE: --devices is required/);
  });

  it('a mapper socket path longer than 108 bytes is refused with a code', async () => {
    const r = await runCli(['mapper', 'modbus', '--dmi-socket', path.join(tmp.dir, 'dmi.sock'), '--mapper-socket', `/tmp/${'m'.repeat(110)}.sock`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_DMI_SOCKET: /);
  });
});

/** The device state as the twin holds it, over MQTT (membership/get would do too). */
async function fetchState(url: string): Promise<string | undefined> {
  const bus = new MqttBus({ url });
  await bus.start();
  try {
    let resolve!: (state: string | undefined) => void;
    const answer = new Promise<string | undefined>((r) => (resolve = r));
    const timer = setTimeout(() => resolve(undefined), 3000);
    await bus.subscribe('$hw/events/node/edge-test/membership/get/result', (_t, p) => {
      clearTimeout(timer);
      const devices = (JSON.parse(p.toString()) as { devices: Array<{ id?: string; state?: string }> }).devices;
      resolve(devices.find((d) => d.id === 'default/thermostat')?.state);
    });
    await bus.publish('$hw/events/node/edge-test/membership/get', JSON.stringify({ event_id: 'm', timestamp: Date.now() }), { qos: 1 });
    return await answer;
  } finally {
    await bus.close();
  }
}
