// Interop with a peer no one here wrote: mbpoll (Debian) reads and writes the simulated example
// thermostat, over TCP and over RTU through a socat pty pair, and sees the values the mapper (and
// so the twin) sees.

import { execFile } from 'node:child_process';
import { nextEvent } from '../../test/async.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modbusMapper } from '../../mappers/modbus/index.js';
import { bindDevice } from '../../mappers/sdk/index.js';
import { BUNDLED_MODELS_DIR, loadModels } from '../../schemas/index.js';
import { simulateModbus, type ModbusSimulation } from './cli.js';
import { requirePeer } from '../../test/peers.js';
import { openPtyPair, type PtyPair } from './pty.js';
import { ModbusRtuServer } from './rtu-server.js';

const run = promisify(execFile);
const THERMOSTAT = fileURLToPath(new URL('../../examples/devices/thermostat.yaml', import.meta.url));
const hasMbpoll = requirePeer('mbpoll');

/** Runs mbpoll once and returns the values it printed, as `[index]: value` lines. */
async function mbpoll(args: readonly string[]): Promise<string[]> {
  const { stdout } = await run('mbpoll', ['-0', '-1', '-o', '2', ...args], { timeout: 10_000 });
  return [...stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => m[2]!);
}

describe.skipIf(!hasMbpoll)('mbpoll ⇄ simulator over TCP', () => {
  let sim: ModbusSimulation;
  let tcp: string[];
  beforeAll(async () => {
    sim = await simulateModbus({ device: THERMOSTAT, port: 0, evolveEveryMs: 0 });
    tcp = ['-m', 'tcp', '-a', '1', '-p', String(sim.port), '127.0.0.1'];
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('reads the registers the manifest describes, and the same values the mapper reads', async () => {
    // setpoint: float 21 = 0x41A80000 at 0..1; mode: "heat" at 2..3; power: coil 0; temperature: input 0..1.
    expect(await mbpoll(['-r', '0', '-c', '4', '-t', '4', ...tcp])).toEqual(['16808', '0', '26725', '24948']);
    expect(await mbpoll(['-r', '0', '-t', '4:float', '-B', ...tcp])).toEqual(['21']);
    expect(await mbpoll(['-r', '0', '-t', '3:float', '-B', ...tcp])).toEqual(['42.5']);
    expect(await mbpoll(['-r', '0', '-t', '0', ...tcp])).toEqual(['1']);

    const [device] = sim.simulators.map((s) => s.device);
    const pointed = { ...device!, protocol: { protocolName: 'modbus', configData: { ...device!.protocol!.configData, port: sim.port } } };
    const model = loadModels([BUNDLED_MODELS_DIR]).models.get('thermostat')!;
    const { driverDevice } = bindDevice(modbusMapper, pointed, model);
    const driver = modbusMapper.connect({ logger: pino({ level: 'silent' }), now: Date.now }, driverDevice);
    try {
      const values = (await driver.read(driverDevice.properties, AbortSignal.timeout(2000))).map((r) => (r.ok ? r.value : r.error.code));
      expect(values).toEqual([42.5, 21, 'heat', true]);
    } finally {
      await driver.close();
    }
  });

  it('writes: a float with FC16, a coil, a string as two registers; the simulator reports each', async () => {
    const unit = sim.simulators[0]!;
    const writes = (): Promise<unknown[]> => nextEvent(unit, 'write', { signal: AbortSignal.timeout(5000) });
    let next = writes();
    await mbpoll(['-r', '0', '-t', '4:float', '-B', ...tcp, '22.5']);
    expect((await next)[0]).toEqual({ property: 'setpoint', value: 22.5, fc: 16 });
    next = writes();
    await mbpoll(['-r', '0', '-t', '0', ...tcp, '0']);
    expect((await next)[0]).toMatchObject({ property: 'power', value: false });
    next = writes();
    await mbpoll(['-r', '2', '-t', '4', ...tcp, String(0x636f), String(0x6f6c)]);
    expect((await next)[0]).toEqual({ property: 'mode', value: 'cool', fc: 16 });
    expect(unit.values()).toMatchObject({ setpoint: 22.5, power: false, mode: 'cool' });
  });

  it('sees an injected exception as mbpoll reports it', async () => {
    const lift = sim.simulators[0]!.faults.exceptionAt(2, 2, { table: 'HoldingRegister' });
    try {
      await expect(mbpoll(['-r', '0', '-c', '4', '-t', '4', ...tcp])).rejects.toMatchObject({ stderr: expect.stringMatching(/Illegal data address/) });
    } finally {
      lift();
    }
  });
});

describe.skipIf(!hasMbpoll || !requirePeer('socat'))('mbpoll ⇄ simulator over RTU (socat pty pair)', () => {
  let dir: string;
  let pair: PtyPair;
  let sim: ModbusSimulation;
  let server: ModbusRtuServer;
  let rtu: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgetwin-rtu-'));
    pair = await openPtyPair(dir);
    // The TCP side is not used here; the units are served on the serial line too.
    sim = await simulateModbus({ device: THERMOSTAT, port: 0, evolveEveryMs: 0 });
    server = new ModbusRtuServer({ units: sim.simulators, path: pair.a, baudRate: 9600, parity: 'none' });
    await server.start();
    rtu = ['-m', 'rtu', '-b', '9600', '-P', 'none', '-a', '1', pair.b];
  });
  afterAll(async () => {
    await server?.close();
    await sim?.close();
    await pair?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads and writes over the serial line', async () => {
    expect(await mbpoll(['-r', '0', '-c', '4', '-t', '4', ...rtu])).toEqual(['16808', '0', '26725', '24948']);
    const written = nextEvent(sim.simulators[0]!, 'write', { signal: AbortSignal.timeout(5000) });
    await mbpoll(['-r', '0', '-t', '4:float', '-B', ...rtu, '19.5']);
    expect((await written)[0]).toEqual({ property: 'setpoint', value: 19.5, fc: 16 });
  });
});
