// The Modbus path end to end: a simulated thermostat on a real TCP port, the unchanged Modbus
// mapper (in-process, and as its own `edgetwin mapper modbus` process), and the twin over MQTT.

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttBus } from '../eventbus/index.js';
import { TwinClient } from '../devicetwin/index.js';
import { freePort } from '../bench/lib.js';
import { eventually, startEdge, tempDir, writeManifests, type TestEdge } from './helpers.js';
import { requirePeer } from './peers.js';
import { BIN, BUILT, runCli, spawnEdge, type RunningEdge } from './process.js';
import { spawn, type ChildProcess } from 'node:child_process';

const run = promisify(execFile);
const EXAMPLE = path.resolve(import.meta.dirname, '..', 'examples', 'devices', 'thermostat.yaml');

function thermostatOnPort(port: number): string {
  // The demo's own manifest, pointed at a free port (tests never use fixed ports).
  return readExample().replace('port: "1502"', `port: "${port}"`).replace('nodeName: edge-1', 'nodeName: edge-test');
}

function readExample(): string {
  return readFileSync(EXAMPLE, 'utf8');
}

/** Reads holding registers 0..1 (setpoint, float32 big-endian) with an independent Modbus client. */
async function readSetpoint(port: number): Promise<number> {
  const client = new ModbusSerial.default();
  await client.connectTCP('127.0.0.1', { port });
  try {
    const { buffer } = await client.readHoldingRegisters(0, 2);
    return buffer.readFloatBE(0);
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
  }
}

describe('the demo: simulated Modbus thermostat, in-process mapper', () => {
  let edge: TestEdge;
  let port: number;
  let bus: MqttBus;
  let twins: TwinClient;

  beforeAll(async () => {
    port = await freePort();
    edge = await startEdge({ 'thermostat.yaml': thermostatOnPort(port) }, { simulate: ['default/thermostat'], mappers: { enabled: ['modbus'] } });
    bus = new MqttBus({ url: edge.url });
    await bus.start();
    twins = new TwinClient(bus);
  });

  afterAll(async () => {
    await bus?.close();
    await edge?.stop();
  });

  it('shows a live temperature in the twin and marks the device online', async () => {
    const got = await eventually(async () => {
      const r = await twins.get('default/thermostat');
      return r.twin.temperature?.actual?.value !== undefined ? r : undefined;
    });
    expect(Number(got.twin.temperature!.actual!.value)).toBeGreaterThanOrEqual(-40);
    await eventually(async () => (edge.core.twin.get('default/thermostat')?.state === 'online' ? true : undefined));
  });

  it('applies the manifest\'s desired values at start (setpoint 21, mode heat, power on)', async () => {
    const r = await eventually(async () => {
      const t = (await twins.get('default/thermostat')).twin;
      return ['setpoint', 'mode', 'power'].every((k) => t[k]?.ack?.state === 'applied') ? t : undefined;
    });
    expect(r.setpoint!.actual!.value).toBe('21');
    expect(r.mode!.actual!.value).toBe('heat');
    expect(r.power!.actual!.value).toBe('true');
  });

  it('twin set setpoint=23.5 reaches the register and comes back as actual with ack applied', async () => {
    await twins.setDesired('default/thermostat', { setpoint: '23.5' });
    const t = await eventually(async () => {
      const s = (await twins.get('default/thermostat')).twin.setpoint;
      return s?.ack?.state === 'applied' && s.expected?.value === '23.5' ? s : undefined;
    });
    expect(t.actual!.value).toBe('23.5');
    expect(await readSetpoint(port)).toBe(23.5);
  });

  it.skipIf(!requirePeer('mbpoll'))('mbpoll (a peer no one here wrote) reads the value the twin shows, and the twin sees what mbpoll writes', async () => {
    const mbpoll = (...args: string[]): Promise<string> =>
      run('mbpoll', ['-m', 'tcp', '-a', '1', '-0', '-r', '0', '-t', '4:float', '-B', '-p', String(port), ...args]).then((r) => r.stdout);
    const read = await mbpoll('-c', '1', '-1', '127.0.0.1');
    const twinValue = (await twins.get('default/thermostat')).twin.setpoint!.actual!.value;
    expect(/\[0\]:\s+(\S+)/.exec(read)?.[1]).toBe(twinValue);
    await mbpoll('127.0.0.1', '22.25');
    const seen = await eventually(async () => {
      const v = (await twins.get('default/thermostat')).twin.setpoint?.actual?.value;
      return v === '22.25' ? v : undefined;
    });
    expect(seen).toBe('22.25');
    // Put the desired value back on the device for the tests that follow.
    await mbpoll('127.0.0.1', twinValue ?? '23.5');
  });

  it('a desired value the model refuses never reaches the device', async () => {
    await expect(twins.setDesired('default/thermostat', { setpoint: '99' })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_MODEL_VALIDATION' });
    expect(await readSetpoint(port)).toBe(23.5);
  });
});

describe.skipIf(!BUILT)('three processes: edgetwin run, edgetwin mapper modbus, edgetwin simulate modbus', () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  let edge: RunningEdge;
  let simPort: number;

  function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready: ${args.join(' ')}\n${out}\n${err}`)), 15_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = ready.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ child, match: m });
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${args.join(' ')}\n${out}\n${err}`)));
    });
  }

  beforeAll(async () => {
    simPort = await freePort();
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, { 'thermostat.yaml': thermostatOnPort(simPort) });
    await start(['simulate', 'modbus', '--device', path.join(devices, 'thermostat.yaml'), '--port', String(simPort), '--seed', '7'], /simulator ready: modbus on [\d.]+:(\d+)/);
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(config, `nodeName: edge-test\ndataDir: ./data\ndevices: [./devices]\nmappers:\n  enabled: []\nlog:\n  level: warn\n`);
    edge = await spawnEdge(['--config', config, '--mqtt-port', '0']);
    await start(['mapper', 'modbus', '--broker', edge.url, '--devices', devices, '--log-level', 'warn'], /mapper modbus ready: (\d+) devices/);
  });

  afterAll(async () => {
    await edge?.stop();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    tmp.cleanup();
  });

  it('the out-of-process mapper reports readings and applies a desired value set from the CLI', async () => {
    const set = await runCli(['twin', 'set', 'default/thermostat', 'setpoint=19', '-b', edge.url]);
    expect(set.code).toBe(0);
    const twin = await eventually(async () => {
      const r = await runCli(['twin', 'get', 'default/thermostat', '-b', edge.url]);
      const t = (JSON.parse(r.stdout) as { twin: Record<string, { actual?: { value: string }; expected?: { value: string }; ack?: { state: string } }> }).twin;
      return t.setpoint?.ack?.state === 'applied' && t.setpoint.expected?.value === '19' && t.temperature?.actual ? t : undefined;
    }, 15_000);
    expect(twin.setpoint!.actual!.value).toBe('19');
    expect(await readSetpoint(simPort)).toBe(19);
  });
});
